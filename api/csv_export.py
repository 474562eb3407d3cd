"""``Accept: text/csv`` on lists: a header row, then one row per item."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response


def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split(",")[0]


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if value is None:
        return ""
    text = str(value)
    # Spreadsheet formula injection: neutralize cells that a spreadsheet would evaluate.
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_response(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    filename: str,
    next_cursor: str | None = None,
) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
