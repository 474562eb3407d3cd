"""Strong ETags from row versions, and the ``If-Match`` check (412 on mismatch)."""

from __future__ import annotations

from fastapi import Response

from api.errors import PreconditionFailed


def etag_for(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """No header: no precondition. ``*`` or a list containing the current tag: pass. Else 412."""
    if if_match is None:
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags or etag_for(version) in tags:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {etag_for(version)}; "
        "reload and try again.",
        current_etag=etag_for(version),
    )
