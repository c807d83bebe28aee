"""``python -m duckstring.catchment``: serve the Catchment configured by the environment.

The same app as ``uvicorn duckstring.catchment.asgi:app`` (see :mod:`duckstring.catchment.asgi`
for the variables), served without uvicorn's ten wake-ups a second.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m duckstring.catchment",
        description="Serve the Catchment configured by DUCKSTRING_* environment variables.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7474, help="port (default 7474)")
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (default warning)",
    )
    args = parser.parse_args(argv)
    from duckstring.catchment.asgi import app
    from duckstring.catchment.serve import serve

    try:
        serve(app, host=args.host, port=args.port, log_level=args.log_level)
    except KeyboardInterrupt:  # uvicorn raises the Ctrl+C it caught again once it stopped
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
