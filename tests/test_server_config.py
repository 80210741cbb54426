"""Config: defaults, environment variables, then flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from server.config import DEFAULT_CORS_ORIGINS, Config, config_from


def test_defaults_are_the_frontend_contract() -> None:
    c = config_from([], env={})
    assert (c.host, c.port) == ("localhost", 5000)
    assert c.cors_origins == DEFAULT_CORS_ORIGINS
    assert "http://localhost:5173" in c.cors_origins
    assert c.host_names >= {"localhost", "127.0.0.1", "::1"}


def test_env_then_flags() -> None:
    env = {
        "STORYREEL_PORT": "5050",
        "STORYREEL_DATA_DIR": "/srv/d",
        "STORYREEL_CORS_ORIGINS": "http://a:1, http://b:2",
        "STORYREEL_KEEP_WARM": "true",
    }
    c = config_from([], env=env)
    assert c.port == 5050 and c.data_dir == Path("/srv/d") and c.keep_warm == "on"  # true still means on
    assert c.cors_origins == ("http://a:1", "http://b:2")
    c = config_from(
        [
            "--port",
            "6000",
            "--cors-origin",
            "http://c:3",
            "--cors-origin",
            "http://d:4",
            "--no-keep-warm",
            "--videos-dir",
            "/v",
            "--models-dir",
            "/m",
            "--host",
            "127.0.0.1",
        ],
        env=env,
    )
    assert c.port == 6000 and c.cors_origins == ("http://c:3", "http://d:4") and c.keep_warm == "off"
    assert c.videos_dir == Path("/v") and c.models_dir == Path("/m") and c.host == "127.0.0.1"


@pytest.mark.parametrize("argv, env, expected", [
    ([], {}, "auto"),
    (["--keep-warm", "on"], {}, "on"),
    (["--keep-warm", "off"], {"STORYREEL_KEEP_WARM": "on"}, "off"),
    (["--keep-warm"], {}, "on"),  # the old boolean flag
    (["--no-keep-warm"], {"STORYREEL_KEEP_WARM": "auto"}, "off"),
    ([], {"STORYREEL_KEEP_WARM": "false"}, "off"),
    ([], {"STORYREEL_KEEP_WARM": "AUTO"}, "auto"),
])
def test_keep_warm_is_auto_on_or_off(argv: list[str], env: dict[str, str], expected: str) -> None:
    assert config_from(argv, env=env).keep_warm == expected


def test_keep_warm_refuses_other_values(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        config_from(["--keep-warm", "sometimes"], env={})
    assert "auto, on, off" in capsys.readouterr().err


def test_doctor_flags() -> None:
    from server.config import command_from, doctor_setup

    cmd = command_from(["--doctor", "--json", "--models-dir", "/m", "--images-backend", "draft"], env={})
    assert cmd.doctor and cmd.json and cmd.config.models_dir == Path("/m")
    assert not command_from([], env={}).doctor
    setup = doctor_setup(cmd.config)
    assert setup.models_dir == Path("/m") and setup.images == "draft" and setup.keep_warm == "auto"
    assert setup.folders == {"data": Path("data"), "videos": Path("videos")}
    with pytest.raises(SystemExit):
        command_from(["--json"], env={})  # --json alone means nothing


def test_derived_paths() -> None:
    c = Config(data_dir=Path("/d"), models_dir=Path("/m"))
    assert c.db_path == Path("/d/jobs.sqlite3") and c.jobs_dir == Path("/d/jobs")
    assert c.stock_path == Path("/m/stock")
    assert c.manual_roots == (Path.home(), Path("/d/uploads"))


def test_bad_flag_value_exits_with_usage() -> None:
    with pytest.raises(SystemExit):
        config_from(["--port", "many"], env={})
    with pytest.raises(SystemExit):
        config_from([], env={"STORYREEL_PORT": "many"})


@pytest.mark.parametrize("argv, env", [(["--images-backend", "real"], {}),
                                       ([], {"STORYREEL_SCRIPT_BACKEND": "gpt4"})])
def test_unknown_backend_is_refused_naming_the_choices(argv: list[str], env: dict[str, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        config_from(argv, env=env)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "must be one of auto, draft, " in err and ("'real'" in err or "'gpt4'" in err)


def test_forced_backend_without_weights_exits_with_the_fix(tmp_path: Path) -> None:
    """No traceback: one line naming what is missing and the command that fetches it."""
    proc = subprocess.run([sys.executable, "-m", "server", "--images-backend", "sdxl", "--port", "0",
                           "--data-dir", str(tmp_path / "d"), "--videos-dir", str(tmp_path / "v"),
                           "--models-dir", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: SDXL weights not found" in proc.stderr and "download_models.py --sdxl" in proc.stderr
    assert "Traceback" not in proc.stderr
