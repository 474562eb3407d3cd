"""REMS Patient Monitoring Form assembly (SPEC §6, DOMAIN.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from api.clinical.gates import SedationScore
from api.clinical.rems import REMS_FORM_VERSION, assemble_rems_form
from api.clinical.summary import SummaryReading, summarize_vitals

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 in New York
ENDED = START + timedelta(minutes=128, seconds=30)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def bp(minutes: float, sys: float, dia: float) -> list[SummaryReading]:
    return [
        SummaryReading("systolic_bp", sys, at(minutes)),
        SummaryReading("diastolic_bp", dia, at(minutes)),
    ]


READINGS = [
    *bp(-10, 132, 84),
    *bp(40, 150, 92),
    *bp(120, 128, 80),
    SummaryReading("spo2", 97, at(30)),
]
SUMMARY = summarize_vitals(READINGS, dosing_started_at=START, dosing_ended_at=at(5), ended_at=ENDED)
PATIENT = {
    "first_name": "Ada",
    "last_name": "Byron",
    "birth_date": date(1980, 5, 1),
    "sex": "female",
}
SESSION = {"dosing_started_at": START, "ended_at": ENDED}
ADMINS = [
    {"dose_mg": 28, "lot_number": "LOT-A1", "started_at": START, "devices": 1},
    {"dose_mg": 28, "lot_number": "LOT-A1", "started_at": at(5), "devices": 1},
]
COMPLETE = {
    "concomitant_medications": {
        "benzodiazepines": False,
        "sedative_hypnotics": False,
        "psychostimulants": True,
        "maois": False,
    },
    "monitoring_provider": {"name": "Grace Hopper", "phone": "555-0100", "email": "gh@example.org"},
    "healthcare_setting": {"name": "Vigil Clinic", "address": "1 Main St, Springfield, IL 62701"},
    "respiratory_rate_recorded": True,
    "minutes_until_ready": 75,
    "vitals_acceptable_before_dosing": True,
    "vitals_acceptable_before_completion": True,
    "adverse_events": [],
}


def form(**overrides: object) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "patient": PATIENT,
        "session": SESSION,
        "administrations": ADMINS,
        "vitals_summary": SUMMARY,
        "sedation_scores": [
            SedationScore("moaas", 4, at(30)),
            SedationScore("moaas", 5, at(110)),
        ],
        "cadss_totals": [(at(40), 12)],
        **COMPLETE,
    }
    kwargs.update(overrides)
    return assemble_rems_form(**kwargs)  # type: ignore[arg-type]


def test_complete_form() -> None:
    f = form()
    assert f["missing"] == []
    assert f["form_version"] == REMS_FORM_VERSION
    assert f["patient"] == {
        "first_name": "Ada",
        "middle_initial": None,
        "last_name": "Byron",
        "birth_date": date(1980, 5, 1),
        "sex": "female",
    }
    assert f["treatment_date"] == date(2026, 12, 1)
    assert (f["dose_mg"], f["devices"], f["lot_number"]) == (56.0, 2, "LOT-A1")
    assert f["monitoring_minutes"] == 128
    assert f["monitoring_at_least_120_minutes"] is True
    assert f["bp_before_dosing"] == {"systolic": 132, "diastolic": 84, "measured_at": at(-10)}
    assert f["bp_40_min"] == {
        "systolic": 150,
        "diastolic": 92,
        "measured_at": at(40),
        "minutes_after_dosing_start": 40.0,
    }
    assert f["bp_before_completion"] == {"systolic": 128, "diastolic": 80, "measured_at": at(120)}
    assert f["sedation"] == {"observed": True, "basis": "sedation_scores", "lowest_moaas": 4}
    assert f["dissociation"] == {"observed": True, "basis": "cadss", "max_cadss_total": 12}
    assert f["respiratory_depression"] == {"observed": False, "basis": "monitoring"}
    assert f["adverse_events"] == []
    assert f["concomitant_medications"] == COMPLETE["concomitant_medications"]


def test_bare_record_lists_what_is_missing() -> None:
    f = assemble_rems_form(
        patient={"first_name": "Ada", "last_name": "Byron", "sex": "unknown"},
        session={"dosing_started_at": START, "ended_at": None},
        administrations=[{"dose_mg": 56, "lot_number": None, "started_at": START}],
        vitals_summary=summarize_vitals(
            bp(-10, 130, 80), dosing_started_at=START, dosing_ended_at=None, ended_at=None
        ),
    )
    assert f["missing"] == [
        "patient.birth_date",
        "patient.sex",
        "concomitant_medications",
        "monitoring_provider",
        "healthcare_setting",
        "lot_number",
        "monitoring_minutes",
        "minutes_until_ready",
        "vitals_acceptable_before_dosing",
        "vitals_acceptable_before_completion",
        "bp_40_min",
        "bp_before_completion",
        "sedation",
        "dissociation",
        "respiratory_depression",
        "adverse_events",
    ]
    assert f["dose_mg"] == 56.0
    assert f["devices"] is None
    assert f["monitoring_at_least_120_minutes"] is None


def test_no_administrations() -> None:
    f = form(administrations=[], session={"dosing_started_at": None, "ended_at": None})
    missing = f["missing"]
    assert isinstance(missing, list)
    for name in ("treatment_date", "dose_mg", "lot_number", "monitoring_minutes"):
        assert name in missing


def test_partial_sections_name_the_subfield() -> None:
    f = form(
        concomitant_medications={"benzodiazepines": True},
        monitoring_provider={"name": "Grace Hopper", "phone": " "},
        healthcare_setting={"name": "Vigil Clinic"},
    )
    assert f["missing"] == [
        "concomitant_medications.sedative_hypnotics",
        "concomitant_medications.psychostimulants",
        "concomitant_medications.maois",
        "monitoring_provider.phone",
        "monitoring_provider.email",
        "healthcare_setting.address",
    ]


def test_concomitant_medications_from_the_list_and_minutes_until_ready() -> None:
    from api.clinical.rems import concomitant_from_list, minutes_until_ready

    assert concomitant_from_list(None) is None
    assert concomitant_from_list([]) == dict.fromkeys(
        ("benzodiazepines", "sedative_hypnotics", "psychostimulants", "maois"), False
    )
    listed = [{"name": "zolpidem", "class": "sedative_hypnotic"}, {"name": "x", "class": "maoi"}]
    assert concomitant_from_list(listed) == {
        "benzodiazepines": False,
        "sedative_hypnotics": True,
        "psychostimulants": False,
        "maois": True,
    }
    assert minutes_until_ready(START, at(89.9)) == 89
    assert minutes_until_ready(START, None) is None
    assert minutes_until_ready(None, at(10)) is None


def test_respiratory_depression_needs_both_spo2_and_respiratory_rate_for_no() -> None:
    assert form(respiratory_rate_recorded=False)["respiratory_depression"]["observed"] is None
    assert "respiratory_depression" in form(respiratory_rate_recorded=False)["missing"]
    events = [{"kind": "respiratory_depression", "severity": "moderate"}]
    f = form(adverse_events=events)
    assert f["respiratory_depression"] == {"observed": True, "basis": "adverse_events"}
    f = form(adverse_events=[{"kind": "excessive_sedation"}], sedation_scores=[])
    assert f["sedation"] == {"observed": True, "basis": "adverse_events"}
    f = form(adverse_events=[{"kind": "dissociation_distress"}], cadss_totals=[])
    assert f["dissociation"] == {"observed": True, "basis": "adverse_events"}


def test_monitoring_from_first_device_and_short_session() -> None:
    ended = START + timedelta(minutes=95)
    f = form(session={"dosing_started_at": START, "ended_at": ended})
    assert f["monitoring_minutes"] == 95
    assert f["monitoring_at_least_120_minutes"] is False
    # first device earlier than the recorded dosing start counts
    admins = [{**ADMINS[0], "started_at": START - timedelta(minutes=3)}, ADMINS[1]]
    assert form(administrations=admins)["monitoring_minutes"] == 131


def test_treatment_date_in_clinic_zone() -> None:
    late = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 21:00 on Dec 1 in New York (UTC-5)
    admins = [{**ADMINS[0], "started_at": late}]
    eastern = timezone(timedelta(hours=-5))
    assert form(administrations=admins)["treatment_date"] == date(2026, 12, 2)
    assert form(administrations=admins, clinic_tz=eastern)["treatment_date"] == date(2026, 12, 1)


def test_several_lots_listed() -> None:
    admins = [ADMINS[0], {**ADMINS[1], "lot_number": "LOT-B2"}]
    assert form(administrations=admins)["lot_number"] == "LOT-A1, LOT-B2"


def test_one_lot_missing_is_missing() -> None:
    admins = [ADMINS[0], {**ADMINS[1], "lot_number": ""}]
    f = form(administrations=admins)
    assert f["lot_number"] is None
    assert f["missing"] == ["lot_number"]


class TestObservations:
    def test_explicit_answers_win(self) -> None:
        f = form(
            sedation_observed=False,
            dissociation_observed=False,
            respiratory_depression_observed=True,
        )
        assert f["sedation"] == {"observed": False, "basis": "recorded"}
        assert f["dissociation"] == {"observed": False, "basis": "recorded"}
        assert f["respiratory_depression"] == {"observed": True, "basis": "recorded"}

    def test_no_sedation_when_all_scores_alert(self) -> None:
        f = form(sedation_scores=[SedationScore("rass", 0, at(30))])
        assert f["sedation"] == {
            "observed": False,
            "basis": "sedation_scores",
            "lowest_moaas": None,
        }

    def test_rass_negative_is_sedation(self) -> None:
        f = form(sedation_scores=[SedationScore("rass", -1, at(30))])
        sedation = f["sedation"]
        assert isinstance(sedation, dict)
        assert sedation["observed"] is True

    def test_pre_dose_scores_ignored(self) -> None:
        f = form(sedation_scores=[SedationScore("moaas", 3, at(-5))], cadss_totals=[(at(-5), 20)])
        missing = f["missing"]
        assert isinstance(missing, list)
        assert "sedation" in missing
        assert "dissociation" in missing

    def test_cadss_cutoff(self) -> None:
        for total, observed in ((4, False), (5, True)):
            dissociation = form(cadss_totals=[(at(40), total)])["dissociation"]
            assert isinstance(dissociation, dict)
            assert dissociation["observed"] is observed

    def test_respiratory_depression_from_alerts(self) -> None:
        f = form(alert_kinds=["systolic_bp_high", "spo2_low"])
        assert f["respiratory_depression"] == {"observed": True, "basis": "alerts"}
        f = form(alert_kinds=["systolic_bp_high"])
        assert f["respiratory_depression"] == {"observed": False, "basis": "monitoring"}

    def test_respiratory_depression_unknown_without_spo2(self) -> None:
        summary = summarize_vitals(
            bp(40, 140, 90), dosing_started_at=START, dosing_ended_at=None, ended_at=ENDED
        )
        f = form(vitals_summary=summary)
        assert f["respiratory_depression"] == {"observed": None, "basis": None}
        # the 40-minute BP is also the last one before completion
        assert f["missing"] == ["bp_before_dosing", "respiratory_depression"]
