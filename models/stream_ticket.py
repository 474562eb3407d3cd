from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class StreamTicket(IdMixin, Base):
    """A one-time ticket that opens one live stream in a browser (SPEC §13).

    ``EventSource`` cannot send an ``Authorization`` header, so a signed-in member of staff asks
    for a ticket bound to themselves and to one stream path; the stream accepts it once, within
    a minute. Only the SHA-256 of the ticket is stored (the ticket itself is never kept or
    logged). ``used_at`` is set by the UPDATE that redeems it, whose WHERE settles a race
    between two processes: exactly one of them sees the row change.
    """

    __tablename__ = "stream_tickets"
    __table_args__ = (Index("ix_stream_tickets_expires_at", "expires_at"),)

    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    path: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # when the bearer token the ticket was asked with expires: the stream's credentials
    credential_expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
