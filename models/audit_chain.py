from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AuditChainHead(Base):
    """One row: the ``seq`` and ``hash`` of the last audit row appended.

    Every append locks it (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer at
    a time), so appends from several processes form one chain. It is a convenience, not the
    evidence: ``vigil audit verify`` reads only the audit rows themselves.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
