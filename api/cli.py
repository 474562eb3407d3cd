"""The ``vigil`` command: serve, migrate, and administrative chores."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _serve(args: argparse.Namespace) -> int:
    from api.config import get_settings
    from api.logging import configure_logging
    from api.serve import serve

    settings = get_settings()
    settings.resolved_secret_key()  # fail fast on a placeholder secret in production
    configure_logging(settings.log_level)
    return serve(
        args.host or settings.host,
        args.port or settings.port,
        args.workers or settings.workers,
        worker_timeout=settings.worker_timeout_seconds,
    )


def _migrate(args: argparse.Namespace) -> int:
    from alembic import command

    from api.readiness import alembic_config

    command.upgrade(alembic_config(), args.revision)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigil", description="Vigil treatment-session record")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API (VIGIL_HOST, VIGIL_PORT, VIGIL_WORKERS)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(handler=_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations (alembic upgrade)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(handler=_migrate)

    from api.audit_cli import register as register_audit
    from api.db_roles import register as register_db
    from api.integrations.cli import register as register_integrations
    from api.live.cli import register as register_events
    from api.users.cli import register as register_users

    for register in [
        register_users,
        register_integrations,
        register_events,
        register_audit,
        register_db,
        *EXTENSIONS,
    ]:
        register(sub)
    return parser


# Other modules add their sub-commands here (users, simulate, mllp).
EXTENSIONS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
