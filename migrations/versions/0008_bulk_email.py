"""Bulk email and invitation codes: new kinds of outbox message.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KIND_OLD = (
    "registration_received",
    "changes_confirmed",
    "booking_cancelled",
    "registration_cancelled",
    "promoted",
    "request_approved",
    "request_declined",
    "manage_link",
    "ranked_result",
    "ranked_offer",
)
KIND_NEW = KIND_OLD + ("invitation", "bulk")


def _replace_check(values):
    """Replace the CHECK constraint listing the message kinds (batch mode rebuilds SQLite tables)."""
    listed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_message_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_message_message_kind"), f"kind IN ({listed})")


def upgrade():
    _replace_check(KIND_NEW)


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE kind IN ('invitation', 'bulk')")
    _replace_check(KIND_OLD)
