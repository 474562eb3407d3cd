"""``vigil events prune --older-than-days N``: trim the live-event outbox now (the server also
does so hourly, see ``api.live.retention``)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta


async def prune(older_than: timedelta) -> int:
    from api.config import get_settings
    from api.db import create_engine
    from api.live.retention import prune_events

    engine = create_engine(get_settings())
    try:
        return await prune_events(engine, older_than)
    finally:
        await engine.dispose()


def _handle(args: argparse.Namespace) -> int:
    if args.older_than_days < 1:
        print("--older-than-days must be at least 1", flush=True)
        return 2
    removed = asyncio.run(prune(timedelta(days=args.older_than_days)))
    print(f"removed {removed} live events older than {args.older_than_days} days")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = sub.add_parser("events", help="the live-event outbox behind the SSE streams")
    actions = events.add_subparsers(dest="action", required=True)
    prune_cmd = actions.add_parser("prune", help="delete live events older than N days")
    prune_cmd.add_argument("--older-than-days", type=int, default=7)
    prune_cmd.set_defaults(handler=_handle)
