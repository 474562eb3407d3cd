"""Who is acting: the one dependency every route takes the actor from.

Authentication plugs in here (``api.security``); routes never look at credentials themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from api.config import Settings

ActorKind = Literal["user", "integration", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    role: str  # admin | clinician | nurse | integration | system
    kind: ActorKind = "user"
    name: str = ""

    @property
    def source(self) -> str:
        """The namespace of ``external_id``s this actor sends (unique per source)."""
        return f"{self.kind}:{self.id}"


async def current_actor(request: Request) -> Actor:
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is not None:
        return actor
    resolver = request.app.state.actor_resolver
    actor = await resolver(request)
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def clinic_tz(request: Request) -> tzinfo:
    """The clinic's time zone (``VIGIL_CLINIC_TZ``): where a calendar date is a clinic's day."""
    return ZoneInfo(request.app.state.settings.clinic_tz)


ClinicTz = Annotated[tzinfo, Depends(clinic_tz)]


def app_settings(request: Request) -> Settings:
    """The running app's settings (the clinic's thresholds, dose limits, ...), not the
    environment's: what the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]
