"""Pre-dose and discharge gates over HTTP (SPEC §4), with overrides and the readiness view."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.api.safety_helpers import (
    assess,
    checked_in_session,
    dosing_session,
    good_discharge_vitals,
    monitoring_session,
    ok,
    ready_to_discharge,
    unmet_codes,
)
from tests.factories import (
    ago,
    create_patient,
    create_plan,
    create_session,
    good_predose,
    now,
    post_vitals,
    prepare_discharge,
    prepare_dosing,
    transition,
    vital,
)


def high_bp(at_minutes: float) -> list[dict[str, object]]:
    at = ago(at_minutes)
    return [
        vital("systolic_bp", 150, "mm[Hg]", at),
        vital("diastolic_bp", 95, "mm[Hg]", at),
        vital("heart_rate", 80, "/min", at),
        vital("spo2", 97, "%", at),
    ]


async def test_high_predose_bp_blocks_dosing_with_every_unmet_item(
    client: httpx.AsyncClient,
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    await ok(await post_vitals(client, sid, high_bp(10)), 201)

    await prepare_dosing(client, sid, now())
    r = await transition(client, sid, "dosing")
    assert r.status_code == 409
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert unmet_codes(problem) == ["above_limit", "above_limit"]
    systolic, diastolic = problem["unmet"]
    assert systolic == {
        "code": "above_limit",
        "vital": "systolic_bp",
        "value": 150,
        "limit": 140,
        "overridable": True,
        "message": "Systolic BP 150 mmHg is above the pre-dose limit of 140 mmHg: recheck it. "
        "A clinician may override with override_reason.",
    }
    assert problem["code"] == "above_limit"
    assert diastolic["vital"] == "diastolic_bp"
    assert diastolic["limit"] == 90
    assert "Pre-dose checks are not met" in problem["detail"]
    assert "150 mmHg" in problem["detail"]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["status"] == "checked_in"


async def test_a_new_reading_within_limits_lets_dosing_start(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    await ok(await post_vitals(client, sid, high_bp(10)), 201)
    await prepare_dosing(client, sid, now())
    assert (await transition(client, sid, "dosing")).status_code == 409
    await ok(await post_vitals(client, sid, good_predose(ago(1))), 201)
    body = await ok(await transition(client, sid, "dosing"))
    assert body["status"] == "dosing"
    assert body["transitions"][-1]["overridden"] is None


async def test_nurse_override_is_forbidden_and_clinician_override_is_recorded(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await checked_in_session(client, at=30)
    sid = session["id"]
    await ok(await post_vitals(client, sid, high_bp(10)), 201)
    reason = "BP 150/95 reviewed with the patient; benefit outweighs risk"

    await prepare_dosing(nurse_client, sid, now())
    r = await transition(nurse_client, sid, "dosing", override_reason=reason)
    assert r.status_code == 403
    assert r.json()["status"] == 403

    body = await ok(await transition(client, sid, "dosing", override_reason=reason))
    assert body["status"] == "dosing"
    last = body["transitions"][-1]
    assert last["override_reason"] == reason
    assert [u["code"] for u in last["overridden"]] == ["above_limit", "above_limit"]


async def test_missing_and_stale_predose_readings(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(client, at=90)
    sid = session["id"]
    await ok(
        await post_vitals(
            client,
            sid,
            [
                vital("systolic_bp", 120, "mm[Hg]", ago(60)),
                vital("diastolic_bp", 80, "mm[Hg]", ago(60)),
            ],
        ),
        201,
    )
    await prepare_dosing(client, sid, now())
    r = await transition(client, sid, "dosing")
    assert r.status_code == 409
    unmet = {u["vital"]: u["code"] for u in r.json()["unmet"]}
    assert unmet == {
        "systolic_bp": "stale_reading",
        "diastolic_bp": "stale_reading",
        "heart_rate": "missing_reading",
        "spo2": "missing_reading",
    }


async def test_plan_thresholds_override_clinic_defaults(client: httpx.AsyncClient) -> None:
    session = await checked_in_session(
        client,
        at=30,
        thresholds={"pre_systolic_max": 160, "pre_diastolic_max": 100},
        thresholds_reason="treated hypertension, reviewed with cardiology",
    )
    sid = session["id"]
    await ok(await post_vitals(client, sid, high_bp(10)), 201)
    await prepare_dosing(client, sid, now())
    assert (await transition(client, sid, "dosing")).status_code == 200


async def test_gates_use_the_revision_current_at_check_in(client: httpx.AsyncClient) -> None:
    """A revision written while the session is booked reaches it: it pins at check-in."""
    patient = await create_patient(client)
    plan = await create_plan(
        client,
        patient["id"],
        thresholds={"pre_systolic_max": 160},
        thresholds_reason="treated hypertension, reviewed with cardiology",
    )
    session = await create_session(client, plan=plan)
    sid = session["id"]
    revised = {
        "medication": "ketamine",
        "route": "iv_infusion",
        "indication": "trd",
        "dose_mg_per_kg": 0.5,
        "max_dose_mg": 60,
        "infusion_minutes": 40,
        "min_monitoring_minutes": 60,
        "thresholds": {"pre_systolic_max": 130},
    }
    await ok(await client.post(f"/v1/dosing-plans/{plan['id']}/revisions", json=revised), 201)
    await ok(await transition(client, sid, "checked_in", weight_kg=80, at=ago(30)))
    await ok(
        await post_vitals(
            client,
            sid,
            [
                vital("systolic_bp", 150, "mm[Hg]", ago(5)),
                vital("diastolic_bp", 85, "mm[Hg]", ago(5)),
                vital("heart_rate", 80, "/min", ago(5)),
                vital("spo2", 97, "%", ago(5)),
            ],
        ),
        201,
    )
    # Revision 2 (pre_systolic_max 130), current at check-in, applies, not revision 1 (160).
    await prepare_dosing(client, sid, now())
    r = await transition(client, sid, "dosing")
    assert r.status_code == 409
    assert [(u["code"], u["limit"]) for u in r.json()["unmet"]] == [("above_limit", 130)]
    record = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert (record["plan_revision"], record["pinned_revision"]) == (2, 2)


async def test_invalid_plan_thresholds_are_rejected(client: httpx.AsyncClient) -> None:
    patient = await create_patient(client)
    r = await client.post(
        f"/v1/patients/{patient['id']}/dosing-plans",
        json={
            "medication": "ketamine",
            "route": "iv_infusion",
            "indication": "trd",
            "dose_mg_per_kg": 0.5,
            "max_dose_mg": 60,
            "infusion_minutes": 40,
            "min_monitoring_minutes": 60,
            "thresholds": {"systolic_max": 1400, "made_up": 3},
        },
    )
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["errors"]]
    assert ["body", "thresholds", "systolic_max"] in locs
    assert ["body", "thresholds", "made_up"] in locs


async def test_discharge_before_minimum_monitoring_reports_minutes_remaining(
    client: httpx.AsyncClient,
) -> None:
    session = await monitoring_session(
        client, dosing_at=30, monitoring_at=10, min_monitoring_minutes=60
    )
    sid = session["id"]
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    problem = r.json()
    assert unmet_codes(problem) == ["min_monitoring"]
    item = problem["unmet"][0]
    assert item["remaining_minutes"] == 30
    assert "30 minutes remaining" in item["message"]


async def test_discharge_gate_met_discharges(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now())
    readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
    assert readiness["discharge"]["ready"] is True
    assert readiness["discharge"]["unmet"] == []
    # no dose recorded: the clock runs from dosing start
    dosing_started = (await ok(await client.get(f"/v1/sessions/{sid}")))["dosing_started_at"]
    started = datetime.fromisoformat(dosing_started)
    earliest = datetime.fromisoformat(readiness["discharge"]["earliest_at"])
    assert earliest - started == timedelta(minutes=60)
    body = await ok(await transition(client, sid, "discharged"))
    assert body["status"] == "discharged"
    assert body["vitals_summary"]["monitoring_minutes"] >= 150


async def test_discharge_needs_a_resolved_sedation_score(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ok(await post_vitals(client, sid, good_discharge_vitals(ago(3))), 201)

    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert unmet_codes(r.json()) == ["missing_sedation_score"]

    await ok(await assess(client, sid, "moaas", ago(4), score=4), 201)
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    assert unmet_codes(r.json()) == ["sedation_not_resolved"]
    assert "MOAA/S 4" in r.json()["unmet"][0]["message"]

    await ok(await assess(client, sid, "rass", ago(2), score=0), 201)
    assert (await transition(client, sid, "discharged")).status_code == 200


async def test_sedation_score_before_dosing_does_not_count(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ok(await post_vitals(client, sid, good_discharge_vitals(ago(3))), 201)
    await ok(await assess(client, sid, "moaas", ago(160), score=5), 201)
    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert unmet_codes(r.json()) == ["missing_sedation_score"]


async def test_discharge_vitals_outside_alert_limits(client: httpx.AsyncClient) -> None:
    session = await monitoring_session(client, min_monitoring_minutes=60)
    sid = session["id"]
    await ok(await assess(client, sid, "moaas", ago(3), score=5), 201)
    at = ago(3)
    await ok(
        await post_vitals(
            client,
            sid,
            [
                vital("systolic_bp", 185, "mm[Hg]", at),
                vital("diastolic_bp", 100, "mm[Hg]", at),
                vital("heart_rate", 45, "/min", at),
                vital("spo2", 96, "%", at),
            ],
        ),
        201,
    )
    await prepare_discharge(client, sid, now())
    r = await transition(client, sid, "discharged")
    assert r.status_code == 409
    unmet = r.json()["unmet"]
    assert [(u["code"], u.get("vital")) for u in unmet if "vital" in u] == [
        ("above_limit", "systolic_bp"),
        # 100 is inside the alert limit (110) but above both the pre-dose limit (90) and
        # the baseline 78 + 20 %
        ("not_near_baseline", "diastolic_bp"),
        ("below_limit", "heart_rate"),
        ("missing_reading", "respiratory_rate"),
    ]
    # the two readings raised alerts, still open: they block discharge too
    assert [u["code"] for u in unmet if "vital" not in u] == ["open_alert", "open_alert"]


async def test_discharge_override_by_clinician_only(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await monitoring_session(client, dosing_at=30, monitoring_at=10)
    sid = session["id"]
    await ready_to_discharge(client, sid)
    reason = "Patient transported home by family; reviewed by Dr. Lee"
    await prepare_discharge(nurse_client, sid, now())
    r = await transition(nurse_client, sid, "discharged", override_reason=reason)
    assert r.status_code == 403
    body = await ok(await transition(client, sid, "discharged", override_reason=reason))
    assert body["transitions"][-1]["overridden"][0]["code"] == "min_monitoring"


async def test_readiness_lists_both_gates_and_changes_nothing(
    client: httpx.AsyncClient, nurse_client: httpx.AsyncClient
) -> None:
    session = await dosing_session(client, dosing_at=20)
    sid = session["id"]
    before = await ok(await client.get(f"/v1/sessions/{sid}"))
    readiness = await ok(await nurse_client.get(f"/v1/sessions/{sid}/readiness"))
    assert set(readiness) == {"dosing", "discharge", "vitals_due_at"}
    assert readiness["discharge"]["ready"] is False
    codes = unmet_codes(readiness["discharge"])
    assert codes[0] == "min_monitoring"
    assert "missing_sedation_score" in codes
    after = await ok(await client.get(f"/v1/sessions/{sid}"))
    assert after["version"] == before["version"]


async def test_of_two_readings_at_one_time_the_one_recorded_last_counts(
    client: httpx.AsyncClient,
) -> None:
    # A nurse re-enters a mistyped SpO2 with the same measured_at (instead of retracting it):
    # the gate and the summary take the reading recorded last, whichever order rows come in.
    for first, last, ready in ((85, 97, True), (97, 85, False)):
        session = await checked_in_session(client, at=30)
        sid = session["id"]
        at = ago(10)
        vitals = [v for v in good_predose(at) if v["code"] != "spo2"]
        await ok(await post_vitals(client, sid, [*vitals, vital("spo2", first, "%", at)]), 201)
        await ok(await post_vitals(client, sid, [vital("spo2", last, "%", at)]), 201)
        await prepare_dosing(client, sid, now())
        readiness = await ok(await client.get(f"/v1/sessions/{sid}/readiness"))
        assert readiness["dosing"]["ready"] is ready, readiness


async def test_discharge_at_in_the_near_future_cannot_satisfy_min_monitoring_early(
    client: httpx.AsyncClient,
) -> None:
    """59 minutes into a 60-minute minimum: a discharge dated 90 s ahead is refused (422),
    it does not count monitoring that has not happened yet."""
    session = await monitoring_session(
        client, dosing_at=59, monitoring_at=10, min_monitoring_minutes=60
    )
    sid = session["id"]
    await ready_to_discharge(client, sid)
    await prepare_discharge(client, sid, now() + timedelta(seconds=90))
    r = await transition(client, sid, "discharged", at=now() + timedelta(seconds=90))
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "at"]]
    assert (await client.get(f"/v1/sessions/{sid}")).json()["status"] == "monitoring"
