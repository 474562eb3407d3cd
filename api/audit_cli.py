"""``vigil audit verify``: walk the audit hash chain; exit 1 naming the first broken row."""

from __future__ import annotations

import argparse
import asyncio
import sys


async def _verify() -> int:
    from api.audit_chain import verify
    from api.config import get_settings
    from api.db import create_engine

    engine = create_engine(get_settings())
    try:
        async with engine.connect() as conn:
            verdict = await conn.run_sync(verify)
    finally:
        await engine.dispose()
    if verdict.broken is not None:
        print(f"BROKEN: {verdict.broken}", file=sys.stderr)
        return 1
    print(f"ok: {verdict.rows} audit rows, the chain is intact")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain of the audit trail")
    verify.set_defaults(handler=lambda _args: asyncio.run(_verify()))
