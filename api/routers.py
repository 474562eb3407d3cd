"""Every API router, in the order the docs list them."""

from fastapi import APIRouter

from api.patients.router import router as patients
from api.plans.router import router as plans
from api.sessions.router import router as sessions
from api.vitals.router import router as vitals

ALL: list[APIRouter] = [patients, plans, sessions, vitals]
