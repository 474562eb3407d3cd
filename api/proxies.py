"""Which peers may tell Vigil the client's address and scheme (``VIGIL_TRUSTED_PROXIES``).

Only a request whose TCP peer is one of the configured addresses or networks has its
``X-Forwarded-For`` / ``X-Forwarded-Proto`` believed (default: nobody, so nobody can forge the
address that goes into the audit trail and the login lock-outs). The client is the rightmost
address in ``X-Forwarded-For`` that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16, ::1"`` → networks; ValueError names a bad entry."""
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {item!r}") from None
    return tuple(networks)


def is_trusted(host: str | None, networks: Sequence[Network]) -> bool:
    if not host or not networks:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def forwarded_client(peer: str, header: str, networks: Sequence[Network]) -> str:
    """The client address a trusted ``peer`` forwarded: walk ``X-Forwarded-For`` from the
    right past trusted proxies; an entry that is not an address ends the walk at the last
    good one."""
    client = peer
    for item in reversed([h.strip() for h in header.split(",")]):
        try:
            ipaddress.ip_address(item)
        except ValueError:
            break
        client = item
        if not is_trusted(item, networks):
            break
    return client
