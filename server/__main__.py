"""python -m server [--host localhost] [--port 5000] [--data-dir data] ... (see --help)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Sequence

from aiohttp import web

from engine.errors import EngineError
from server.app import create_app
from server.config import Config, command_from, doctor_setup
from server.datafolder import DataFolderBusy, DataLock, PortUnavailable, check_port


def doctor(config: Config, as_json: bool) -> int:
    """Print the doctor's report (a table, or JSON); 0 when the configured backends can run."""
    from engine.doctor import diagnose, render_table

    report = diagnose(doctor_setup(config))
    print(json.dumps(report.to_dict(), indent=2) if as_json else render_table(report), flush=True)
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    command = command_from(sys.argv[1:] if argv is None else argv)
    config = command.config
    logging.basicConfig(level=logging.WARNING if command.doctor else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    if command.doctor:
        return doctor(config, command.json)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        with DataLock(config.data_dir):  # one server per data folder, until this process ends
            check_port(config.host, config.port)  # so a taken port is told apart from other failures
            print(f"StoryReel backend on http://{config.host}:{config.port}  "
                  f"(videos in {config.videos_dir.resolve()})", flush=True)
            web.run_app(create_app(config), host=config.host, port=config.port, print=None)
    except DataFolderBusy as e:
        print(f"error: {e.message}", file=sys.stderr, flush=True)
        return 3
    except PortUnavailable as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    except EngineError as e:  # e.g. a backend forced with --images-backend sdxl but no weights
        print(f"error: {e.message}", file=sys.stderr, flush=True)
        return 2
    except OSError as e:  # e.g. the data folder cannot be created or written
        where = f": {e.filename}" if e.filename else ""
        print(f"error: cannot start: {e.strerror or e}{where}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
