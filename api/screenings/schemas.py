from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictBool, StrictInt

from api.plans.schemas import Indication
from api.types import CalendarDate, Id, PastTimestamp, ReadModel, StrictModel

Answer = Literal["present", "absent", "unknown"]
Decision = Literal["eligible", "eligible_with_precautions", "not_eligible"]
BaselineInstrument = Literal["phq9", "gad7", "pcl5", "madrs", "ybocs", "cadss"]

_EXAMPLE: dict[str, Any] = {
    "indication": "trd",
    "diagnoses": [{"code": "F33.2", "text": "Major depressive disorder, recurrent, severe"}],
    "prior_treatments": [
        {"kind": "antidepressant", "name": "sertraline", "adequate": True, "outcome": "partial"},
        {"kind": "antidepressant", "name": "bupropion", "adequate": True, "outcome": "no_response"},
    ],
    "contraindications": {
        "aneurysmal_vascular_disease": "absent",
        "arteriovenous_malformation": "absent",
        "intracerebral_hemorrhage_history": "absent",
        "hypersensitivity": "absent",
        "uncontrolled_hypertension": "absent",
        "pregnancy": "absent",
        "breastfeeding": "absent",
        "psychosis_history": "absent",
        "mania_history": "absent",
        "substance_use_disorder": "absent",
        "cardiovascular_disease": "absent",
        "severe_hepatic_impairment": "absent",
    },
    "childbearing_potential": False,
    "baseline": [
        {
            "instrument": "phq9",
            "items": [3, 2, 2, 2, 2, 2, 2, 1, 0],
            "administered_at": "2026-11-20T10:00:00-05:00",
        }
    ],
    "consent": {"signed_at": "2026-11-20T10:30:00-05:00", "document_version": "consent-v3"},
    "rems_enrollment": {"enrolled_at": "2026-11-20T11:00:00-05:00", "reference": "REMS-123"},
    "decision": "eligible",
}


class Diagnosis(StrictModel):
    code: str = Field(
        min_length=3,
        max_length=8,
        pattern=r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$",
        description="ICD-10-CM code, e.g. F33.2",
    )
    text: str | None = Field(default=None, max_length=500)


class PriorTreatment(StrictModel):
    kind: Literal["antidepressant", "augmentation", "psychotherapy", "ect", "tms", "other"]
    name: str = Field(min_length=1, max_length=200)
    adequate: StrictBool
    outcome: Literal["no_response", "partial", "intolerant", "response"]


class Contraindications(StrictModel):
    """Every item answered (422 when one is left out or an unknown key is sent)."""

    aneurysmal_vascular_disease: Answer
    arteriovenous_malformation: Answer
    intracerebral_hemorrhage_history: Answer
    hypersensitivity: Answer
    uncontrolled_hypertension: Answer
    pregnancy: Answer
    breastfeeding: Answer
    psychosis_history: Answer
    mania_history: Answer
    substance_use_disorder: Answer
    cardiovascular_disease: Answer
    severe_hepatic_impairment: Answer


class BaselineScore(StrictModel):
    instrument: BaselineInstrument
    items: list[StrictInt] | None = Field(default=None, max_length=50)
    score: StrictInt | None = None
    administered_at: PastTimestamp


class Consent(StrictModel):
    signed_at: PastTimestamp
    document_version: str = Field(min_length=1, max_length=64)


class RemsEnrollment(StrictModel):
    enrolled_at: PastTimestamp
    reference: str | None = Field(default=None, max_length=128)


class ScreeningCreate(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    indication: Indication
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=20)
    prior_treatments: list[PriorTreatment] = Field(max_length=100)
    contraindications: Contraindications
    childbearing_potential: StrictBool
    baseline: list[BaselineScore] | None = Field(default=None, max_length=20)
    consent: Consent
    rems_enrollment: RemsEnrollment | None = None
    decision: Decision
    decision_reason: str | None = Field(default=None, min_length=1, max_length=2000)
    valid_until: CalendarDate | None = None
    screened_at: PastTimestamp | None = None


class ScreeningRead(ReadModel):
    id: Id
    patient_id: Id
    screened_at: datetime
    indication: str
    diagnoses: list[dict[str, Any]]
    prior_treatments: list[dict[str, Any]]
    failed_adequate_antidepressant_trials: int
    meets_trd_criterion: bool
    contraindications: dict[str, str]
    childbearing_potential: bool
    baseline: list[dict[str, Any]]
    consent: dict[str, Any]
    rems_enrollment: dict[str, Any] | None = Field(
        description="recorded with this screening (null: none recorded here)"
    )
    patient_rems_enrollment: dict[str, Any] | None = Field(
        description="the patient's REMS enrollment in force: the latest one any screening recorded"
    )
    decision: Decision
    decision_reason: str | None
    valid_until: date
    expired: bool = Field(description="valid_until has passed (the clinic's day)")
    current: bool = Field(description="the patient's current screening (latest screened_at)")
    recorded_by: str | None
    recorded_at: datetime
