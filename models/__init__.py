"""Every table Vigil has. Importing this package registers them all on ``Base.metadata``."""

from models.administration import Administration
from models.adverse_event import AdverseEvent
from models.alert import Alert
from models.assessment import Assessment
from models.audit import AuditEvent
from models.base import Base
from models.checklist import SessionChecklist
from models.device import Device, DeviceBinding
from models.event import LiveEvent
from models.follow_up import FollowUp
from models.integration import Hl7Message, QuarantinedReading
from models.medication_list import MedicationListVersion
from models.observation import Observation
from models.patient import Patient
from models.plan import DosingPlan, DosingPlanRevision
from models.rems_submission import RemsSubmission
from models.screening import Screening
from models.session import SessionTransition, TreatmentSession
from models.session_medication import SessionMedication
from models.user import IntegrationClient, User

__all__ = [
    "Administration",
    "AdverseEvent",
    "Alert",
    "Assessment",
    "AuditEvent",
    "Base",
    "Device",
    "DeviceBinding",
    "DosingPlan",
    "DosingPlanRevision",
    "FollowUp",
    "Hl7Message",
    "IntegrationClient",
    "LiveEvent",
    "MedicationListVersion",
    "Observation",
    "Patient",
    "QuarantinedReading",
    "RemsSubmission",
    "Screening",
    "SessionChecklist",
    "SessionMedication",
    "SessionTransition",
    "TreatmentSession",
    "User",
]
