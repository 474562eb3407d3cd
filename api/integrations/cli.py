"""``vigil mllp`` and ``vigil simulate``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path


def _mllp(args: argparse.Namespace) -> int:
    # imported when the command runs: `vigil --help` need not load the app
    from api.integrations import mllp
    from api.main import create_app

    options = mllp.ListenOptions(
        client=args.client,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(mllp.run(options, create_app))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from api.integrations import simulator

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            simulator.run(
                base_url=args.base_url or _local_api(),
                api_key=args.api_key,
                session=args.session,
                device=args.device,
                interval=args.interval,
                count=args.count,
                bp_minutes=args.bp_minutes,
            )
        )
    return 0


def _local_api() -> str:
    """This host's API, where ``vigil serve`` listens (VIGIL_HOST, VIGIL_PORT)."""
    from api.config import get_settings

    settings = get_settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mllp = sub.add_parser(
        "mllp",
        help="receive HL7 v2 ORU^R01 over MLLP (TCP or TLS) and answer ACKs",
        description="Listens as an integration client (--client); accepts connections only "
        "from VIGIL_MLLP_ALLOW (comma-separated CIDRs, default 127.0.0.1/32).",
    )
    mllp.add_argument(
        "--client",
        required=True,
        help="the integration client (name or id) the listener acts as; revoking it stops it",
    )
    mllp.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    mllp.add_argument("--port", type=int, default=2575)
    mllp.add_argument("--tls-cert", type=Path, help="server certificate (PEM): MLLP over TLS")
    mllp.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    mllp.add_argument(
        "--tls-client-ca",
        type=Path,
        help="CA certificate(s) (PEM): clients must present a certificate signed by one",
    )
    mllp.set_defaults(handler=_mllp)

    simulate = sub.add_parser(
        "simulate", help="push realistic monitor readings for a session (device simulator)"
    )
    simulate.add_argument("--session", required=True, help="session id (for the live view)")
    simulate.add_argument("--device", required=True, help="identifier of a device bound to it")
    simulate.add_argument(
        "--base-url", help="the API (default: this host's, from VIGIL_HOST and VIGIL_PORT)"
    )
    simulate.add_argument(
        "--api-key",
        default=os.environ.get("VIGIL_API_KEY"),
        help="integration client API key (default: $VIGIL_API_KEY)",
    )
    simulate.add_argument("--interval", type=float, default=5.0, help="seconds between pushes")
    simulate.add_argument("--count", type=int, default=None, help="stop after N pushes")
    simulate.add_argument(
        "--bp-minutes", type=float, default=3.0, help="minutes between blood pressures"
    )
    simulate.set_defaults(handler=_simulate)
