"""Rules for recording a medication administration (SPEC §6 "Administrations"; DOMAIN.md
"Controlled substances", esketamine devices).

* Esketamine nasal spray comes in whole 28 mg devices (two sprays each): the dose is a positive
  multiple of 28 mg and, when ``devices`` is given, ``devices × 28 == dose_mg``.
* A session's administered total may not exceed its planned dose (0.05 mg tolerance for the
  0.1 mg rounding of the planned dose) without a clinician's override: the caller decides 409.
* The session's total never exceeds the plan's ``max_dose_mg``, override or not.
* Esketamine devices are given 5 minutes apart (Spravato label): a record of n devices spans at
  least 5 × (n − 1) minutes from ``started_at`` to ``ended_at`` (required when n > 1), and no
  record starts less than 5 minutes after another record's last device (code
  ``device_interval``).
* Waste above zero needs a witness who is a different person from the one who gave the dose
  (DOMAIN.md: institutions require a second person). Whether the witness is a nurse or clinician
  is a role check for the caller.

Violations raise :class:`AdministrationRuleError` with a machine ``code``, the request ``field``
and a ``message`` for the nurse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from api.clinical.labels import clinic_time
from api.clinical.numbers import is_finite_number

ESKETAMINE_DEVICE_MG = 28
DOSE_TOLERANCE_MG = 0.05
DEVICE_INTERVAL = timedelta(minutes=5)


class AdministrationRuleError(ValueError):
    """Codes: ``esketamine_whole_devices``, ``device_count_mismatch``, ``invalid_waste``,
    ``waste_witness_required``, ``waste_witness_same_person``."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def check_esketamine_devices(dose_mg: float, devices: int | None) -> None:
    """Raise unless ``dose_mg`` is a whole number of 28 mg devices matching ``devices``."""
    whole = False
    count = 0
    if is_finite_number(dose_mg) and dose_mg > 0:
        quotient = Decimal(str(dose_mg)) / ESKETAMINE_DEVICE_MG
        whole = quotient == quotient.to_integral_value()
        count = int(quotient)
    if not whole:
        raise AdministrationRuleError(
            "esketamine_whole_devices",
            "dose_mg",
            f"Esketamine is given in whole {ESKETAMINE_DEVICE_MG} mg devices; {dose_mg!r} mg is "
            f"not a multiple of {ESKETAMINE_DEVICE_MG} (e.g. 56 mg = 2 devices, 84 mg = 3).",
        )
    if devices is None:
        return
    if isinstance(devices, bool) or not isinstance(devices, int) or devices != count:
        raise AdministrationRuleError(
            "device_count_mismatch",
            "devices",
            f"{dose_mg:g} mg of esketamine is {count} device{'s' if count != 1 else ''} of "
            f"{ESKETAMINE_DEVICE_MG} mg, but {devices!r} devices were recorded.",
        )


def exceeds_planned_dose(
    *, already_given_mg: float, this_dose_mg: float, planned_dose_mg: float
) -> bool:
    """True when the session's total with this dose would exceed the planned dose (+0.05 mg)."""
    total = Decimal(str(already_given_mg)) + Decimal(str(this_dose_mg))
    return total > Decimal(str(planned_dose_mg)) + Decimal(str(DOSE_TOLERANCE_MG))


def exceeds_max_dose(*, already_given_mg: float, this_dose_mg: float, max_dose_mg: float) -> bool:
    """True when the session's total with this dose would exceed ``max_dose_mg`` (no
    tolerance: the planned dose is rounded down to fit under it)."""
    total = Decimal(str(already_given_mg)) + Decimal(str(this_dose_mg))
    return total > Decimal(str(max_dose_mg))


@dataclass(frozen=True)
class DeviceRecord:
    """An esketamine record already in the session: its first and last device."""

    started_at: datetime
    ended_at: datetime | None

    @property
    def last_device_at(self) -> datetime:
        return self.ended_at or self.started_at


def check_device_interval(
    *,
    devices: int,
    started_at: datetime,
    ended_at: datetime | None,
    others: Sequence[DeviceRecord],
    tz: tzinfo,
) -> None:
    """Raise ``device_interval`` unless the devices of this record and the session's other
    (non-retracted) esketamine records are each at least 5 minutes apart.

    A record's first device is at ``started_at`` and its last at ``ended_at`` (at
    ``started_at`` when a single device has no ``ended_at``)."""
    gap = int(DEVICE_INTERVAL.total_seconds() // 60)
    if devices > 1:
        span = DEVICE_INTERVAL * (devices - 1)
        if ended_at is None:
            raise AdministrationRuleError(
                "device_interval",
                "ended_at",
                f"{devices} devices are given {gap} minutes apart: give ended_at, the time of "
                "the last device.",
            )
        if ended_at - started_at < span:
            minutes = int((ended_at - started_at).total_seconds() // 60)
            raise AdministrationRuleError(
                "device_interval",
                "ended_at",
                f"{devices} devices {gap} minutes apart take at least "
                f"{int(span.total_seconds() // 60)} minutes from the first to the last; this "
                f"record spans {minutes} (the last device no earlier than "
                f"{clinic_time(started_at + span, tz)}).",
            )
    last = ended_at or started_at
    for other in sorted(others, key=lambda o: o.started_at):
        if other.started_at <= started_at:
            earliest = other.last_device_at + DEVICE_INTERVAL
            if started_at < earliest:
                raise AdministrationRuleError(
                    "device_interval",
                    "started_at",
                    f"The previous device was given at {clinic_time(other.last_device_at, tz)}; "
                    f"the next may be given {gap} minutes later, from "
                    f"{clinic_time(earliest, tz)}.",
                )
        elif other.started_at < last + DEVICE_INTERVAL:
            raise AdministrationRuleError(
                "device_interval",
                "ended_at" if ended_at is not None else "started_at",
                f"A device is already recorded at {clinic_time(other.started_at, tz)}; this "
                f"record's last device must be at least {gap} minutes before it.",
            )


def check_waste(*, wasted_mg: float | None, witness_id: str | None, administered_by: str) -> None:
    """Raise when waste is invalid or not witnessed by a second person.

    No waste (None or 0) needs no witness. Ids are compared case-insensitively, ignoring
    surrounding spaces (UUIDs may arrive in either case).
    """
    if wasted_mg is None:
        return
    if not is_finite_number(wasted_mg) or wasted_mg < 0:
        raise AdministrationRuleError(
            "invalid_waste", "wasted_mg", "Wasted amount must be zero or a positive number of mg."
        )
    if wasted_mg == 0:
        return
    if witness_id is None or not witness_id.strip():
        raise AdministrationRuleError(
            "waste_witness_required",
            "waste_witness_id",
            f"{wasted_mg:g} mg was wasted: a second nurse or clinician must witness the waste.",
        )
    if witness_id.strip().lower() == administered_by.strip().lower():
        raise AdministrationRuleError(
            "waste_witness_same_person",
            "waste_witness_id",
            "The waste witness must be a different person from the one who gave the dose.",
        )


# Volumes are measured to 0.01 mL; a dose and its volume agree within 1 % or 0.1 mg.
VOLUME_TOLERANCE_ML = 0.005
AMOUNT_TOLERANCE_MG = 0.1
AMOUNT_TOLERANCE_FRACTION = 0.01


def _close_mg(expected: float, actual: float) -> bool:
    return abs(expected - actual) <= max(AMOUNT_TOLERANCE_MG, AMOUNT_TOLERANCE_FRACTION * expected)


def check_volumes(
    *,
    dose_mg: float,
    concentration_mg_per_ml: float | None,
    volume_drawn_ml: float | None,
    volume_administered_ml: float | None,
    wasted_mg: float | None,
) -> None:
    """Raise when the recorded amounts do not add up (a controlled-substance record must: what
    was drawn is either given or wasted, and waste is witnessed, so nothing drawn is left
    unaccounted for).

    * the volume given cannot exceed the volume drawn;
    * with a concentration, ``concentration × volume given`` must match ``dose_mg``;
    * with a concentration and the volume drawn, the rest, ``concentration × drawn`` minus what
      was given (``concentration × volume given``, else ``dose_mg``), must match ``wasted_mg``
      (a missing ``wasted_mg`` counts as 0), and the dose cannot exceed what was drawn;
    * without a concentration, a volume drawn and not given cannot be converted to mg: it must
      be recorded as waste (``wasted_mg`` above 0, so witnessed), or the concentration given.

    Codes: ``volume_exceeds_drawn``, ``dose_volume_mismatch``, ``dose_exceeds_drawn``,
    ``waste_volume_mismatch``, ``leftover_not_accounted``.
    """
    if (
        volume_drawn_ml is not None
        and volume_administered_ml is not None
        and volume_administered_ml > volume_drawn_ml + VOLUME_TOLERANCE_ML
    ):
        raise AdministrationRuleError(
            "volume_exceeds_drawn",
            "volume_administered_ml",
            f"{volume_administered_ml:g} mL given is more than the {volume_drawn_ml:g} mL drawn.",
        )
    if concentration_mg_per_ml is None:
        if (
            volume_drawn_ml is not None
            and volume_administered_ml is not None
            and volume_drawn_ml - volume_administered_ml > VOLUME_TOLERANCE_ML
            and not wasted_mg
        ):
            left = volume_drawn_ml - volume_administered_ml
            raise AdministrationRuleError(
                "leftover_not_accounted",
                "wasted_mg",
                f"{left:.2f} mL of the {volume_drawn_ml:g} mL drawn was not given: record it as "
                "wasted_mg, with a witness (and concentration_mg_per_ml, so the amounts can be "
                "checked).",
            )
        return
    given = dose_mg
    if volume_administered_ml is not None:
        given = concentration_mg_per_ml * volume_administered_ml
        if not _close_mg(dose_mg, given):
            raise AdministrationRuleError(
                "dose_volume_mismatch",
                "volume_administered_ml",
                f"{volume_administered_ml:g} mL at {concentration_mg_per_ml:g} mg/mL is "
                f"{given:.1f} mg, not the {dose_mg:g} mg recorded as given.",
            )
    if volume_drawn_ml is None:
        return
    drawn = concentration_mg_per_ml * volume_drawn_ml
    if given > drawn and not _close_mg(drawn, given):
        raise AdministrationRuleError(
            "dose_exceeds_drawn",
            "dose_mg",
            f"{dose_mg:g} mg given is more than the {drawn:.1f} mg drawn "
            f"({volume_drawn_ml:g} mL at {concentration_mg_per_ml:g} mg/mL).",
        )
    residual = max(0.0, drawn - given)
    recorded = wasted_mg or 0.0
    if not _close_mg(residual, recorded):
        given_text = (
            f"{volume_administered_ml:g} mL given"
            if volume_administered_ml is not None
            else f"{dose_mg:g} mg given"
        )
        raise AdministrationRuleError(
            "waste_volume_mismatch",
            "wasted_mg",
            f"{volume_drawn_ml:g} mL drawn ({drawn:.1f} mg at {concentration_mg_per_ml:g} mg/mL) "
            f"minus {given_text} leaves {residual:.1f} mg; {recorded:g} mg was recorded as "
            "wasted.",
        )


def amount_ml(mg: float | None, concentration_mg_per_ml: float | None) -> float | None:
    """mL for an amount in mg at a concentration, to 0.01 mL; None without a concentration."""
    if mg is None or not concentration_mg_per_ml:
        return None
    return round(mg / concentration_mg_per_ml, 2)
