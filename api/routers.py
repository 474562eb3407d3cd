"""Every API router: in the order the docs list them (``ALL``) and in the order requests are
matched against them (``MATCH_ORDER``)."""

from fastapi import APIRouter

from api.administrations.router import router as administrations
from api.adverse_events.router import router as adverse_events
from api.alerts.router import router as alerts
from api.assessments.router import router as assessments
from api.audit_events.router import router as audit_events
from api.auth.logout import router as logout
from api.board.router import router as board
from api.checklists.router import router as checklists
from api.controlled_substances.router import router as controlled_substances
from api.course.router import router as course
from api.devices.router import router as devices
from api.fhir.router import router as fhir
from api.fhir.safety_router import router as fhir_safety
from api.follow_ups.router import router as follow_ups
from api.integration_clients.router import router as integration_clients
from api.integrations.router import router as integrations
from api.live.router import router as live
from api.live.tickets_router import router as live_tickets
from api.medications.router import router as medications
from api.patients.router import router as patients
from api.plans.router import router as plans
from api.rems.router import router as rems
from api.screenings.router import router as screenings
from api.session_medications.router import router as session_medications
from api.sessions.router import router as sessions
from api.trends.router import router as trends
from api.users.router import router as users
from api.users.router import staff_router as staff
from api.vitals.router import router as vitals

ALL: list[APIRouter] = [
    patients,
    plans,
    screenings,
    medications,
    sessions,
    board,
    checklists,
    vitals,
    alerts,
    administrations,
    session_medications,
    adverse_events,
    assessments,
    rems,
    course,
    follow_ups,
    trends,
    controlled_substances,
    users,
    staff,
    logout,
    integration_clients,
    audit_events,
    devices,
    integrations,
    live,
    live_tickets,
    fhir,
    fhir_safety,
]

# FastAPI tries a request's path against every route in turn, router by router (about 1 µs a
# route, ~90 routes): the routers the monitors and the chair-side client call all day come first.
# No path of one router is a path of another (tests/unit/test_routes.py checks every route is
# reached by its own path), so the order changes nothing but the time; the docs keep ``ALL``'s
# order through the OpenAPI ``tags`` list.
MATCH_ORDER: list[APIRouter] = [
    vitals,
    integrations,
    sessions,
    alerts,
    devices,
    live,
    *(r for r in ALL if r not in (vitals, integrations, sessions, alerts, devices, live)),
]


def tag_order(*first: APIRouter) -> list[dict[str, str]]:
    """The OpenAPI ``tags`` list: the docs' order of the sections."""
    names: list[str] = []
    for router in (*first, *ALL):
        names += [str(t) for t in router.tags if str(t) not in names]
    return [{"name": name} for name in names]
