"""Bundles Vigil answers with: searchset, batch-response and transaction-response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from api.fhir.translate.outcome import operation_outcome


def searchset_bundle(
    resources: Sequence[Mapping[str, Any]],
    *,
    self_url: str,
    next_url: str | None,
    base_url: str | None = None,
    total: int | None = None,
    outcome: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle: ``total`` (every match, not this page), the ``next`` link when there
    is more, and, with ``outcome`` issues, an OperationOutcome entry (search mode ``outcome``)
    saying what the server did not use (unknown parameters).

    With ``base_url`` (e.g. ``https://host/fhir/R4``) each entry gets its ``fullUrl``.
    """
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries: list[dict[str, Any]] = []
    for resource in resources:
        entry: dict[str, Any] = {}
        if base_url is not None:
            entry["fullUrl"] = f"{base_url.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
        entry["resource"] = dict(resource)
        entry["search"] = {"mode": "match"}
        entries.append(entry)
    if outcome:
        entries.append(
            {"resource": operation_outcome(outcome), "search": {"mode": "outcome"}},
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    if entries:
        bundle["entry"] = entries
    return bundle


def status_line(status_code: int) -> str:
    """``201`` -> ``"201 Created"`` for ``Bundle.entry.response.status``."""
    return f"{status_code} {HTTPStatus(status_code).phrase}"


@dataclass(frozen=True)
class EntryResponse:
    """The outcome of one batch/transaction entry."""

    status: str  # "201 Created", "200 OK", "422 Unprocessable Entity"...
    location: str | None = None
    resource: Mapping[str, Any] | None = None
    outcome: Mapping[str, Any] | None = None  # an OperationOutcome, for failures

    @classmethod
    def created(cls, resource: Mapping[str, Any], *, status_code: int = 201) -> EntryResponse:
        """Stored (201), or already stored (200: a retried identifier)."""
        location = f"{resource['resourceType']}/{resource['id']}"
        return cls(status=status_line(status_code), location=location, resource=resource)

    @classmethod
    def failed(cls, status_code: int, issues: Sequence[Mapping[str, Any]]) -> EntryResponse:
        return cls(status=status_line(status_code), outcome=operation_outcome(issues))


def _response_bundle(bundle_type: str, entries: Sequence[EntryResponse]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        response: dict[str, Any] = {"status": entry.status}
        if entry.location is not None:
            response["location"] = entry.location
        if entry.outcome is not None:
            response["outcome"] = dict(entry.outcome)
        item: dict[str, Any] = {}
        if entry.resource is not None:
            item["resource"] = dict(entry.resource)
        item["response"] = response
        out.append(item)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if out:
        bundle["entry"] = out
    return bundle


def batch_response_bundle(entries: Sequence[EntryResponse]) -> dict[str, Any]:
    """``batch-response``: one entry per request entry, in order, each succeeding or failing."""
    return _response_bundle("batch-response", entries)


def transaction_response_bundle(entries: Sequence[EntryResponse]) -> dict[str, Any]:
    """``transaction-response`` for a transaction that succeeded as a whole (a failed
    transaction is answered with a single OperationOutcome instead)."""
    failed = [e.status for e in entries if e.status[:1] != "2"]
    if failed:
        raise ValueError(f"a transaction-response holds only successes, got {failed}")
    return _response_bundle("transaction-response", entries)
