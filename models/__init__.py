"""Every table Vigil has. Importing this package registers them all on ``Base.metadata``."""

from models.administration import Administration
from models.alert import Alert
from models.assessment import Assessment
from models.base import Base
from models.observation import Observation
from models.patient import Patient
from models.plan import DosingPlan, DosingPlanRevision
from models.session import SessionTransition, TreatmentSession

__all__ = [
    "Administration",
    "Alert",
    "Assessment",
    "Base",
    "DosingPlan",
    "DosingPlanRevision",
    "Observation",
    "Patient",
    "SessionTransition",
    "TreatmentSession",
]
