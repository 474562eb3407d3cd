"""Every table Vigil has. Importing this package registers them all on ``Base.metadata``."""

from models.administration import Administration
from models.alert import Alert
from models.assessment import Assessment
from models.audit import AuditEvent
from models.audit_chain import AuditChainHead
from models.base import Base
from models.device import Device, DeviceBinding
from models.event import LiveEvent
from models.integration import Hl7Message, QuarantinedReading
from models.login_throttle import LoginThrottle
from models.observation import Observation
from models.patient import Patient
from models.plan import DosingPlan, DosingPlanRevision
from models.revoked_token import RevokedToken
from models.session import SessionTransition, TreatmentSession
from models.stream_ticket import StreamTicket
from models.user import IntegrationClient, User

__all__ = [
    "Administration",
    "Alert",
    "Assessment",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Device",
    "DeviceBinding",
    "DosingPlan",
    "DosingPlanRevision",
    "Hl7Message",
    "IntegrationClient",
    "LiveEvent",
    "LoginThrottle",
    "Observation",
    "Patient",
    "QuarantinedReading",
    "RevokedToken",
    "SessionTransition",
    "StreamTicket",
    "TreatmentSession",
    "User",
]
