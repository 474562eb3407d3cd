"""live events: ids in commit order, assigned at COMMIT (PostgreSQL)

A live event's id is its position in the streams, so ids must become visible in increasing
order: a reader that has seen id N must never later find a smaller one. Until now the writing
transaction took a transaction-level advisory lock in its outbox INSERT and held it until its
COMMIT, one client round trip later. Under load that round trip waited for the server's event
loop, and every other writer queued on the lock meanwhile: most in-flight writes were waiting
for it, and it, not the CPU, capped ingest.

Here the INSERT takes a provisional id and no lock. A deferred constraint trigger runs inside
COMMIT itself: it takes the same lock and gives the row its final id from the sequence. The lock
is held only from that moment to the end of the commit, with no round trip in between, and is
released after the transaction is visible, so the next holder draws larger ids after it. SQLite
needs none of this: BEGIN IMMEDIATE serializes its writers.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # The pg_advisory_xact_lock key for "assigning live event ids" is 0x564947494C455654
    # ("VIGILEVT"), the key the outbox statement used before this revision.
    op.execute(
        """
        CREATE FUNCTION live_events_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(6217579140699477588);
            UPDATE live_events SET id = nextval('live_events_id_seq') WHERE id = NEW.id;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE CONSTRAINT TRIGGER live_events_commit_order AFTER INSERT ON live_events
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_events_commit_order()
        """
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER live_events_commit_order ON live_events")
    op.execute("DROP FUNCTION live_events_commit_order()")
