"""Spravato REMS Patient Monitoring Form, assembled from the record (SPEC §6 "REMS form";
DOMAIN.md "Spravato label and REMS").

The form is filed for every outpatient esketamine session within 7 days. Its layout changes over
time, so the output carries :data:`REMS_FORM_VERSION`; bump it whenever the fields or their
meaning change. The current field list follows the Janssen "Patient Monitoring Form – Outpatient
Use Only" (11/2021 revision, read second-hand): patient, concomitant medications, monitoring
provider, healthcare setting, treatment date, dose, lot number, total monitoring minutes (from
the 1st device to completion, at least 120), minutes until the patient would have been ready
without the 2-hour rule, vitals acceptable before administration / before completion, three BP
pairs (before, ~40 min after, before completion), sedation, dissociation, respiratory
depression, adverse events.

Input is plain values so a service can call it with what it loaded:

``patient``
    ``first_name``, ``middle_initial`` (optional), ``last_name``, ``birth_date`` (date),
    ``sex`` (``male``/``female``/``other``; ``unknown`` counts as missing).
``session``
    ``dosing_started_at``, ``ended_at`` (aware datetimes or None).
``administrations``
    one mapping per administration: ``dose_mg``, ``lot_number``, ``started_at``, ``devices``.
``vitals_summary``
    the output of :func:`api.clinical.summary.summarize_vitals` (BP pairs, lowest SpO2).
``sedation_scores``
    MOAA/S and RASS scores of the session (:class:`api.clinical.gates.SedationScore`).
``cadss_totals``
    ``(administered_at, total)`` of CADSS assessments of the session.
``alert_kinds``
    kinds of the session's reading alerts (:mod:`api.clinical.alerts`), retracted ones excluded.
Explicit answers (``None`` = not recorded)
    ``concomitant_medications`` (``benzodiazepines``, ``sedative_hypnotics``,
    ``psychostimulants``, ``maois``: bool each; :func:`concomitant_from_list` answers them from
    the patient's medication list in force at the session; None: no list, missing),
    ``monitoring_provider`` (``name``, ``phone``, ``email``: the session's responsible
    clinician), ``healthcare_setting`` (``name``, ``address``: the clinic's settings),
    ``minutes_until_ready`` (:func:`minutes_until_ready`), ``vitals_acceptable_before_dosing``
    / ``_before_completion`` (yes when the gate passed, no when a clinician overrode a vital
    item), ``sedation_observed``, ``dissociation_observed``,
    ``respiratory_depression_observed``, ``adverse_events`` (mappings with ``kind``,
    ``severity``, ...; empty = none).

Derived when not given explicitly (each answer says its ``basis``):

* an adverse event of a sedation, dissociation or respiratory kind answers that question yes.
* sedation observed: any MOAA/S ≤ 4 or RASS < 0 at or after dosing start (MOAA/S ≤ 4 counted as
  sedated in the Spravato trials, DOMAIN.md); no score after dosing → missing.
* dissociation observed: any CADSS total above :data:`CADSS_DISSOCIATION_ABOVE` (4) at or after
  dosing start (the cut-off used in the esketamine trials, second-hand); none → missing.
* respiratory depression observed: a ``spo2_low``, ``respiratory_rate_low`` or ``etco2_high``
  alert; otherwise "no" only when SpO2 and respiratory rate were both measured after dosing
  start (``respiratory_rate_recorded``); otherwise missing.
* treatment date: date of the first device (else dosing start) in ``clinic_tz`` when given.
* monitoring minutes: floored minutes from the first device (else dosing start) to the session's
  end; ``monitoring_at_least_120_minutes`` says whether the REMS minimum was met.

``missing`` lists, in form order, every field the record does not provide, using the output key
(``lot_number``, ``bp_40_min``, ``monitoring_minutes``, ``concomitant_medications``, ...) or
``section.field`` for a part of a section (``patient.birth_date``, ``monitoring_provider.email``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo

from api.clinical.gates import SedationScore
from api.clinical.phase import since_dosing_started
from api.clinical.summary import monitoring_minutes as _monitoring_minutes

REMS_FORM_VERSION = "spravato-pmf-2021-11.vigil-1"
REMS_FORM_NAME = "spravato_rems_patient_monitoring_form"
REMS_MIN_MONITORING_MINUTES = 120
CADSS_DISSOCIATION_ABOVE = 4
RESPIRATORY_ALERT_KINDS = frozenset({"spo2_low", "respiratory_rate_low", "etco2_high"})

CONCOMITANT_KEYS = ("benzodiazepines", "sedative_hypnotics", "psychostimulants", "maois")
PROVIDER_KEYS = ("name", "phone", "email")
SETTING_REQUIRED_KEYS = ("name", "address")
# medication-list classes -> the form's concomitant-medication questions
CONCOMITANT_CLASSES = {
    "benzodiazepine": "benzodiazepines",
    "sedative_hypnotic": "sedative_hypnotics",
    "psychostimulant": "psychostimulants",
    "maoi": "maois",
}
SEDATION_EVENT_KINDS = frozenset({"excessive_sedation"})
DISSOCIATION_EVENT_KINDS = frozenset({"dissociation_distress"})
RESPIRATORY_EVENT_KINDS = frozenset({"respiratory_depression", "oxygen_desaturation"})


def concomitant_from_list(items: Sequence[Mapping[str, object]] | None) -> dict[str, bool] | None:
    """The form's four questions answered from the medication list in force (None: no list)."""
    if items is None:
        return None
    classes = {str(i.get("class")) for i in items}
    return {answer: cls in classes for cls, answer in CONCOMITANT_CLASSES.items()}


def minutes_until_ready(first_device: datetime | None, ready_at: datetime | None) -> int | None:
    """Floored minutes from the first device (else dosing start) to the discharge checklist's
    ``ready_at``."""
    if first_device is None or ready_at is None:
        return None
    return max(0, int((ready_at - first_device).total_seconds() // 60))


FORM_SEXES = frozenset({"male", "female", "other"})


def _text(source: Mapping[str, object] | None, key: str) -> str | None:
    if source is None:
        return None
    value = source.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _datetime(source: Mapping[str, object], key: str) -> datetime | None:
    value = source.get(key)
    return value if isinstance(value, datetime) else None


def _number(source: Mapping[str, object], key: str) -> float | None:
    value = source.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _answer(observed: bool | None, basis: str | None, **evidence: object) -> dict[str, object]:
    return {"observed": observed, "basis": basis if observed is not None else None, **evidence}


def assemble_rems_form(
    *,
    patient: Mapping[str, object],
    session: Mapping[str, object],
    administrations: Sequence[Mapping[str, object]],
    vitals_summary: Mapping[str, object],
    sedation_scores: Sequence[SedationScore] = (),
    cadss_totals: Sequence[tuple[datetime, int]] = (),
    alert_kinds: Sequence[str] = (),
    concomitant_medications: Mapping[str, bool | None] | None = None,
    monitoring_provider: Mapping[str, object] | None = None,
    healthcare_setting: Mapping[str, object] | None = None,
    minutes_until_ready: int | None = None,
    vitals_acceptable_before_dosing: bool | None = None,
    vitals_acceptable_before_completion: bool | None = None,
    sedation_observed: bool | None = None,
    dissociation_observed: bool | None = None,
    respiratory_depression_observed: bool | None = None,
    adverse_events: Sequence[Mapping[str, object]] | None = None,
    clinic_tz: tzinfo | None = None,
    respiratory_rate_recorded: bool = False,
) -> dict[str, object]:
    """Assemble the form's fields and the list of ``missing`` ones (see module docstring)."""
    missing: list[str] = []

    # Patient
    sex = _text(patient, "sex")
    sex = sex.lower() if sex is not None else None
    birth_date = patient.get("birth_date")
    patient_out: dict[str, object] = {
        "first_name": _text(patient, "first_name"),
        "middle_initial": _text(patient, "middle_initial"),
        "last_name": _text(patient, "last_name"),
        "birth_date": birth_date if isinstance(birth_date, date) else None,
        "sex": sex if sex in FORM_SEXES else None,
    }
    missing += [
        f"patient.{key}"
        for key in ("first_name", "last_name", "birth_date", "sex")
        if patient_out[key] is None
    ]

    # Concomitant medications (not recorded by Vigil)
    concomitant_out: dict[str, bool | None] | None = None
    if concomitant_medications is None:
        missing.append("concomitant_medications")
    else:
        concomitant_out = {key: concomitant_medications.get(key) for key in CONCOMITANT_KEYS}
        missing += [
            f"concomitant_medications.{key}"
            for key, value in concomitant_out.items()
            if value is None
        ]

    # Monitoring provider and healthcare setting
    provider_out: dict[str, str | None] | None = None
    if monitoring_provider is None:
        missing.append("monitoring_provider")
    else:
        provider_out = {key: _text(monitoring_provider, key) for key in PROVIDER_KEYS}
        missing += [f"monitoring_provider.{k}" for k, v in provider_out.items() if v is None]
    setting_out: dict[str, str | None] | None = None
    if healthcare_setting is None:
        missing.append("healthcare_setting")
    else:
        setting_out = {key: _text(healthcare_setting, key) for key in SETTING_REQUIRED_KEYS}
        missing += [
            f"healthcare_setting.{k}" for k in SETTING_REQUIRED_KEYS if setting_out[k] is None
        ]

    # Administration: date, dose, lot
    starts = [t for a in administrations if (t := _datetime(a, "started_at")) is not None]
    dosing_started_at = _datetime(session, "dosing_started_at")
    ended_at = _datetime(session, "ended_at")
    first_device = min(starts) if starts else dosing_started_at
    treatment_date: date | None = None
    if first_device is not None:
        local = first_device.astimezone(clinic_tz) if clinic_tz is not None else first_device
        treatment_date = local.date()
    else:
        missing.append("treatment_date")

    doses = [_number(a, "dose_mg") for a in administrations]
    dose_mg: float | None = None
    if administrations and all(d is not None for d in doses):
        dose_mg = round(sum(d for d in doses if d is not None), 1)
    else:
        missing.append("dose_mg")
    device_counts = [a.get("devices") for a in administrations]
    devices: int | None = None
    if administrations and all(isinstance(d, int) for d in device_counts):
        devices = sum(d for d in device_counts if isinstance(d, int))

    lots = [_text(a, "lot_number") for a in administrations]
    lot_number: str | None = None
    if administrations and all(lots):
        lot_number = ", ".join(sorted({lot for lot in lots if lot is not None}))
    else:
        missing.append("lot_number")

    # Treatment duration
    monitoring: int | None = None
    if first_device is not None and ended_at is not None:
        monitoring = _monitoring_minutes(first_device, ended_at)
    else:
        missing.append("monitoring_minutes")
    if minutes_until_ready is None:
        missing.append("minutes_until_ready")

    # Vital signs
    if vitals_acceptable_before_dosing is None:
        missing.append("vitals_acceptable_before_dosing")
    if vitals_acceptable_before_completion is None:
        missing.append("vitals_acceptable_before_completion")
    bp_before = vitals_summary.get("last_pre_dose_bp")
    bp_40 = vitals_summary.get("bp_40_min")
    bp_end = vitals_summary.get("last_bp_before_discharge")
    for name, value in (
        ("bp_before_dosing", bp_before),
        ("bp_40_min", bp_40),
        ("bp_before_completion", bp_end),
    ):
        if value is None:
            missing.append(name)

    # Sedation, dissociation, respiratory depression, adverse events
    event_kinds = {str(e.get("kind")) for e in adverse_events or ()}
    after_start = [
        s for s in sedation_scores if since_dosing_started(s.administered_at, dosing_started_at)
    ]
    if sedation_observed is not None:
        sedation = _answer(sedation_observed, "recorded")
    elif SEDATION_EVENT_KINDS & event_kinds:
        sedation = _answer(True, "adverse_events")
    elif after_start:
        sedated = any(
            (s.instrument == "moaas" and s.score <= 4) or (s.instrument == "rass" and s.score < 0)
            for s in after_start
        )
        lowest_moaas = min((s.score for s in after_start if s.instrument == "moaas"), default=None)
        sedation = _answer(sedated, "sedation_scores", lowest_moaas=lowest_moaas)
    else:
        sedation = _answer(None, None)
    if sedation["observed"] is None:
        missing.append("sedation")

    cadss_after = [
        total for at, total in cadss_totals if since_dosing_started(at, dosing_started_at)
    ]
    if dissociation_observed is not None:
        dissociation = _answer(dissociation_observed, "recorded")
    elif DISSOCIATION_EVENT_KINDS & event_kinds:
        dissociation = _answer(True, "adverse_events")
    elif cadss_after:
        dissociation = _answer(
            max(cadss_after) > CADSS_DISSOCIATION_ABOVE, "cadss", max_cadss_total=max(cadss_after)
        )
    else:
        dissociation = _answer(None, None)
    if dissociation["observed"] is None:
        missing.append("dissociation")

    if respiratory_depression_observed is not None:
        respiratory = _answer(respiratory_depression_observed, "recorded")
    elif RESPIRATORY_ALERT_KINDS.intersection(alert_kinds):
        respiratory = _answer(True, "alerts")
    elif RESPIRATORY_EVENT_KINDS & event_kinds:
        respiratory = _answer(True, "adverse_events")
    elif vitals_summary.get("lowest_spo2") is not None and respiratory_rate_recorded:
        # "no" only when both SpO2 and respiratory rate were watched and nothing showed it
        respiratory = _answer(False, "monitoring")
    else:
        respiratory = _answer(None, None)
    if respiratory["observed"] is None:
        missing.append("respiratory_depression")

    if adverse_events is None:
        missing.append("adverse_events")

    return {
        "form": REMS_FORM_NAME,
        "form_version": REMS_FORM_VERSION,
        "patient": patient_out,
        "concomitant_medications": concomitant_out,
        "monitoring_provider": provider_out,
        "healthcare_setting": setting_out,
        "treatment_date": treatment_date,
        "dose_mg": dose_mg,
        "devices": devices,
        "lot_number": lot_number,
        "monitoring_minutes": monitoring,
        "monitoring_at_least_120_minutes": (
            None if monitoring is None else monitoring >= REMS_MIN_MONITORING_MINUTES
        ),
        "minutes_until_ready": minutes_until_ready,
        "vitals_acceptable_before_dosing": vitals_acceptable_before_dosing,
        "vitals_acceptable_before_completion": vitals_acceptable_before_completion,
        "bp_before_dosing": bp_before,
        "bp_40_min": bp_40,
        "bp_before_completion": bp_end,
        "sedation": sedation,
        "dissociation": dissociation,
        "respiratory_depression": respiratory,
        "adverse_events": (
            [dict(e) for e in adverse_events] if adverse_events is not None else None
        ),
        "missing": missing,
    }
