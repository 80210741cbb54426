"""Config: defaults, environment variables, then flags."""

from __future__ import annotations

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
    assert c.port == 5050 and c.data_dir == Path("/srv/d") and c.keep_warm
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
    assert c.port == 6000 and c.cors_origins == ("http://c:3", "http://d:4") and not c.keep_warm
    assert c.videos_dir == Path("/v") and c.models_dir == Path("/m") and c.host == "127.0.0.1"


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
