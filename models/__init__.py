"""Every table Vigil has. Importing this package registers them all on ``Base.metadata``."""

from models.administration import Administration
from models.adverse_event import AdverseEvent
from models.alert import Alert
from models.assessment import Assessment
from models.audit import AuditEvent
from models.audit_chain import AuditChainHead
from models.base import Base
from models.checklist import SessionChecklist
from models.device import Device, DeviceBinding
from models.event import LiveEvent
from models.follow_up import FollowUp
from models.integration import Hl7Message, QuarantinedReading
from models.login_throttle import LoginThrottle
from models.medication_list import MedicationListVersion
from models.observation import Observation
from models.patient import Patient
from models.plan import DosingPlan, DosingPlanRevision
from models.rems_submission import RemsSubmission
from models.revoked_token import RevokedToken
from models.screening import Screening
from models.session import SessionTransition, TreatmentSession
from models.session_medication import SessionMedication
from models.stream_ticket import StreamTicket
from models.user import IntegrationClient, User

__all__ = [
    "Administration",
    "AdverseEvent",
    "Alert",
    "Assessment",
    "AuditChainHead",
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
    "LoginThrottle",
    "MedicationListVersion",
    "Observation",
    "Patient",
    "QuarantinedReading",
    "RemsSubmission",
    "RevokedToken",
    "Screening",
    "SessionChecklist",
    "SessionMedication",
    "SessionTransition",
    "StreamTicket",
    "TreatmentSession",
    "User",
]
