"""``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` of the reads, built by the same query functions
the app runs, and whether each plan goes through an index."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ClauseElement, Executable
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.ext.compiler import compiles

from api.sessions.repository import get_session, history_query, summary_readings_query
from api.vitals.repository import vitals_page_query


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(
        compiler.process(element.statement, **kw)
    )


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", []):
        out.extend(_nodes(child))
    return out


def plan_check(plan_json: list[dict[str, Any]], table: str) -> dict[str, Any]:
    nodes = _nodes(plan_json[0]["Plan"])
    on_table = [n for n in nodes if n.get("Relation Name") == table]
    seq = [n for n in on_table if n["Node Type"] == "Seq Scan"]
    indexes = sorted({n["Index Name"] for n in on_table if "Index Name" in n})
    bitmap = sorted({n["Index Name"] for n in nodes if n["Node Type"] == "Bitmap Index Scan"})
    return {
        "uses_index": not seq and bool(indexes or bitmap),
        "indexes": indexes + [b for b in bitmap if b not in indexes],
        "node_types": [n["Node Type"] for n in nodes],
        "execution_ms": round(plan_json[0].get("Execution Time", 0.0), 3),
    }


async def explain_reads(url: str, world: dict[str, Any]) -> dict[str, Any]:
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as db:
            session = await get_session(db, world["timeline_session"])
            statements = {
                "timeline_vitals_500": (vitals_page_query(session, limit=500), "observations"),
                "session_summary_readings": (summary_readings_query(session.id), "observations"),
                "history_list": (
                    history_query(
                        limit=50,
                        cursor=None,
                        patient_id=world["history_patient"],
                        status=None,
                        location=None,
                        from_=None,
                        to=None,
                    ),
                    "treatment_sessions",
                ),
            }
            out = {}
            for name, (statement, table) in statements.items():
                raw = (await db.execute(Explain(statement))).scalar_one()
                plan = json.loads(raw) if isinstance(raw, str) else raw
                out[name] = {**plan_check(plan, table), "plan": plan}
            return out
    finally:
        await engine.dispose()
