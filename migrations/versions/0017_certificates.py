"""Certificates of attendance: who signs them (per event), when each participant was offered theirs, its email kind.

Revision ID: 0017
Revises: 0016
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
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
    "invitation",
    "bulk",
    "password_reset",
    "reminder",  # 0015
    "approval_digest",  # 0015
)
KIND_NEW = KIND_OLD + ("certificate",)


def _replace_check(values):
    """Replace the CHECK constraint listing the message kinds (batch mode rebuilds SQLite tables)."""
    listed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_message_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_message_message_kind"), f"kind IN ({listed})")


def upgrade():
    # Server defaults: the previous release, still running while hosts restart, inserts events without them.
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("certificate_signatory_name", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("certificate_signatory_role_pl", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("certificate_signatory_role_en", sa.String(length=200), nullable=False, server_default="")
        )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("certificate_offered_at", sa.DateTime(timezone=True), nullable=True))
    _replace_check(KIND_NEW)


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE kind = 'certificate'")
    _replace_check(KIND_OLD)
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("certificate_offered_at")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("certificate_signatory_role_en")
        batch_op.drop_column("certificate_signatory_role_pl")
        batch_op.drop_column("certificate_signatory_name")
