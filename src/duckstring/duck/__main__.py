"""``python -m duckstring.duck``: run a Duck from a shell, e.g. on another machine.

The API key is read from ``DUCKSTRING_API_KEY`` only: a command line shows in process listings.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from duckstring.duck.protocol import POLL_WAIT
from duckstring.duck.worker import URL_ENV, DuckConfig, run_duck


def parse_args(argv: Sequence[str] | None = None) -> DuckConfig:
    parser = argparse.ArgumentParser(
        prog="python -m duckstring.duck",
        description="Run the Duck (worker) of one major line of one Pond. "
        "The API key comes from DUCKSTRING_API_KEY.",
    )
    parser.add_argument("--root", required=True, help="the Catchment root")
    parser.add_argument("--pond", required=True, help="the Pond's name")
    parser.add_argument("--major", required=True, type=int, help="the major line")
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV),
        help=f"where the Catchment answers (default: ${URL_ENV})",
    )
    parser.add_argument("--duck-id", default=None, help="this Duck's identity (default: host-pid)")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="an extra header for every request (repeatable)",
    )
    parser.add_argument("--poll-wait", type=float, default=POLL_WAIT, help="long-poll seconds")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="heartbeat seconds")
    parser.add_argument("--stall", type=float, default=30.0, help="stall seconds")
    parser.add_argument("--max-threads", type=int, default=None, help="Ripple threads")
    parser.add_argument(
        "--orphan",
        type=float,
        default=120.0,
        help="seconds an idle Duck waits for a silent Catchment before it stops",
    )
    args = parser.parse_args(argv)
    if not args.url:
        parser.error(f"--url is required when ${URL_ENV} is not set")
    headers = {}
    for item in args.header:
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            parser.error(f"--header {item!r}: write NAME:VALUE")
        headers[name.strip()] = value.strip()
    return DuckConfig(
        root=args.root,
        pond=args.pond,
        major=args.major,
        url=args.url,
        duck_id=args.duck_id,
        headers=headers,
        poll_wait=args.poll_wait,
        heartbeat=args.heartbeat,
        stall=args.stall,
        max_threads=args.max_threads,
        orphan=args.orphan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_duck(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
