"""OperationOutcome: issues, the error carrying them, and how a message quotes a value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def issue(
    code: str,
    diagnostics: str,
    expression: Sequence[str] | None = None,
    *,
    severity: str = "error",
) -> dict[str, Any]:
    """One OperationOutcome issue (``code`` from the FHIR issue-type value set)."""
    result: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        result["expression"] = list(expression)
    return result


class FhirInputError(ValueError):
    """Input Vigil cannot accept; ``issues`` are OperationOutcome issue dicts."""

    def __init__(self, issues: Sequence[Mapping[str, Any]], *, status: int = 422) -> None:
        self.issues: list[dict[str, Any]] = [dict(i) for i in issues]
        self.status = status  # 400 malformed, 422 not processable
        super().__init__("; ".join(str(i.get("diagnostics", i.get("code"))) for i in issues))

    @classmethod
    def single(
        cls, code: str, diagnostics: str, expression: Sequence[str] | None = None
    ) -> FhirInputError:
        return cls([issue(code, diagnostics, expression)])


def shown(value: object, limit: int = 60) -> str:
    """A value as an error message may quote it: strings and numbers (shortened), else its JSON
    kind. Never ``repr`` of a container: a deeply nested one would exhaust the recursion."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return repr(value)[:limit]
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 1] + "…"
        return repr(text)
    return "a JSON object" if isinstance(value, Mapping) else "a JSON array"


_ISSUE_KEYS = ("severity", "code", "details", "diagnostics", "location", "expression")
_SEVERITIES = frozenset({"fatal", "error", "warning", "information"})


def operation_outcome(issues: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An OperationOutcome; issues default to severity ``error`` and code ``processing``."""
    out: list[dict[str, Any]] = []
    for given in issues:
        item = {k: given[k] for k in _ISSUE_KEYS if given.get(k) not in (None, "", [])}
        item.setdefault("severity", "error")
        item.setdefault("code", "processing")
        if item["severity"] not in _SEVERITIES:
            raise ValueError(f"not an issue severity: {item['severity']!r}")
        for key in ("expression", "location"):
            if key in item:
                item[key] = [str(e) for e in item[key]]
        out.append(item)
    if not out:
        out.append({"severity": "information", "code": "informational", "diagnostics": "OK"})
    return {"resourceType": "OperationOutcome", "issue": out}
