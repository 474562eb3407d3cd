from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin


class LoginThrottle(IdMixin, Base):
    """Failed logins to one account from one client address (``api.auth.throttle``).

    A lock-out applies to that pair only, so failures from elsewhere do not lock the user out
    where they work; ``last_success_at`` marks an address the account has logged in from, which
    an account-wide lock does not close either.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("user_id", "client_address"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    client_address: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
