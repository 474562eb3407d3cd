"""Every API router, in the order the docs list them."""

from fastapi import APIRouter

from api.administrations.router import router as administrations
from api.alerts.router import router as alerts
from api.assessments.router import router as assessments
from api.audit_events.router import router as audit_events
from api.controlled_substances.router import router as controlled_substances
from api.devices.router import router as devices
from api.fhir.router import router as fhir
from api.integration_clients.router import router as integration_clients
from api.integrations.router import router as integrations
from api.live.router import router as live
from api.patients.router import router as patients
from api.plans.router import router as plans
from api.rems.router import router as rems
from api.sessions.router import router as sessions
from api.trends.router import router as trends
from api.users.router import router as users
from api.vitals.router import router as vitals

ALL: list[APIRouter] = [
    patients,
    plans,
    sessions,
    vitals,
    alerts,
    administrations,
    assessments,
    rems,
    trends,
    controlled_substances,
    users,
    integration_clients,
    audit_events,
    devices,
    integrations,
    live,
    fhir,
]
