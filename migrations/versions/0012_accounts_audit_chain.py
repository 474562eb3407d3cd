"""accounts, per-address lock-outs, logout, MRNs regardless of case, the audit hash chain

- ``users``: ``phone``, ``email``, ``token_generation`` (tokens carry it: a password change,
  reset, disable or role change moves it on), ``last_failed_login_at``.
- ``login_throttles``: failed logins per account and client address; ``revoked_tokens``: the
  tokens ended by logout.
- ``patients.mrn_key``: the case-folded MRN (``api.patients.mrn``), unique. Existing MRNs
  that differ only in case are kept, both readable and unchanged: the oldest gets the plain key,
  each later one the key followed by ``#`` and its id (unique, so the upgrade never stops a
  running clinic), and the migration prints their ids so someone can reconcile them. New
  patients conflict with the oldest one.
- ``audit_events``: ``resource_type`` widened to 255 (route templates are longer than 64), and
  ``seq``, ``prev_hash``, ``hash`` (``api.audit_chain``). Existing rows are chained in the
  order they were written (``at``, then ``id``); on PostgreSQL the append-only trigger is
  disabled for that one update, by the owner running the migration. ``audit_chain_head`` holds
  the chain's last link.

Revision ID: 0012_accounts_audit_chain
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.audit_chain import GENESIS, row_hash
from api.patients.mrn import mrn_key

revision: str = "0012_accounts_audit_chain"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUDIT_CONTENT = (
    "id",
    "at",
    "actor_id",
    "role",
    "action",
    "resource_type",
    "resource_id",
    "patient_id",
    "client_address",
    "request_id",
    "outcome",
    "detail",
)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("last_failed_login_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("token_generation", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "login_throttles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_throttles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint(
            "user_id", "client_address", name=op.f("uq_login_throttles_user_id_client_address")
        ),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_revoked_tokens_expires_at", ["expires_at"], unique=False)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )

    _fold_mrns(bind)
    _chain_audit(bind, postgres)


def _fold_mrns(bind: sa.Connection) -> None:
    # Added in place on both databases (a SQLite batch would rebuild ``patients``, which every
    # clinical table references): NOT NULL through a server default the rows are then filled
    # over, the unique index created once they are.
    op.add_column(
        "patients",
        sa.Column("mrn_key", sa.String(length=255), server_default="", nullable=False),
    )
    patients = sa.table(
        "patients",
        sa.column("id", sa.Uuid()),
        sa.column("mrn", sa.String()),
        sa.column("mrn_key", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(patients.c.id, patients.c.mrn).order_by(patients.c.created_at, patients.c.id)
    ).all()
    taken: dict[str, str] = {}
    keys = []
    for row in rows:
        key = mrn_key(row.mrn)
        if key in taken:
            print(
                f"0012: patient {row.id} has MRN {row.mrn!r}, which differs only in letter case "
                f"from patient {taken[key]}'s; both are kept as they are, and new patients "
                f"with that MRN conflict with {taken[key]}. Reconcile them."
            )
            key = f"{key}#{row.id}"
        else:
            taken[key] = str(row.id)
        keys.append({"pid": row.id, "key": key})
    if keys:
        bind.execute(
            patients.update()
            .where(patients.c.id == sa.bindparam("pid"))
            .values(mrn_key=sa.bindparam("key")),
            keys,
        )
    if bind.dialect.name == "postgresql":
        op.alter_column("patients", "mrn_key", server_default=None)
    op.create_index("ix_patients_mrn_key", "patients", ["mrn_key"], unique=True)


def _chain_audit(bind: sa.Connection, postgres: bool) -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column(
            "resource_type",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    audit = sa.table(
        "audit_events",
        sa.column("id", sa.Uuid()),
        sa.column("at", sa.DateTime(timezone=True)),
        *(sa.column(name, sa.String()) for name in _AUDIT_CONTENT[2:7]),
        sa.column("patient_id", sa.Uuid()),
        *(sa.column(name, sa.String()) for name in _AUDIT_CONTENT[8:]),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    seq, prev = 0, GENESIS
    result = bind.execute(
        sa.select(*(audit.c[name] for name in _AUDIT_CONTENT)).order_by(audit.c.at, audit.c.id)
    )
    links = []
    for row in result.mappings().all():
        content = dict(row)
        if content["at"] is not None and content["at"].tzinfo is None:  # SQLite: stored UTC
            from datetime import UTC

            content["at"] = content["at"].replace(tzinfo=UTC)
        seq += 1
        digest = row_hash(seq, prev, content)
        links.append({"rid": row["id"], "s": seq, "p": prev, "h": digest})
        prev = digest
    for start in range(0, len(links), 5000):
        bind.execute(
            audit.update()
            .where(audit.c.id == sa.bindparam("rid"))
            .values(seq=sa.bindparam("s"), prev_hash=sa.bindparam("p"), hash=sa.bindparam("h")),
            links[start : start + 5000],
        )
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(op.f("uq_audit_events_seq"), ["seq"])
    head = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
    )
    bind.execute(head.insert().values(id=1, seq=seq, hash=prev))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
        batch_op.alter_column(
            "resource_type",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=False,
            **({"postgresql_using": "substr(resource_type, 1, 64)"} if postgres else {}),
        )
    op.drop_index("ix_patients_mrn_key", table_name="patients")
    if postgres:
        op.drop_column("patients", "mrn_key")
    else:  # in place (SQLite 3.35+), not by rebuilding the table every other one references
        op.execute("ALTER TABLE patients DROP COLUMN mrn_key")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_revoked_tokens_expires_at")
    op.drop_table("revoked_tokens")
    op.drop_table("login_throttles")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_generation")
        batch_op.drop_column("last_failed_login_at")
        batch_op.drop_column("email")
        batch_op.drop_column("phone")
