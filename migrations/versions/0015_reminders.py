"""Reminders before an event and the organisers' daily approval digest: settings, guards, message kinds.

Revision ID: 0015
Revises: 0014
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
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
)
KIND_NEW = KIND_OLD + ("reminder", "approval_digest")


def _replace_check(values):
    """Replace the CHECK constraint listing the message kinds (batch mode rebuilds SQLite tables)."""
    listed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_message_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_message_message_kind"), f"kind IN ({listed})")


def upgrade():
    # Existing events get the defaults too (a week and a day before): a reminder is never sent
    # once its event has started, nor to anyone who registered after it was due.
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_hours", sa.JSON(), nullable=False, server_default="[168, 24]"))
    op.create_table(
        "reminder_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("hours_before", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_superseded", sa.Boolean(), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_reminder_sent_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_message.id"],
            name=op.f("fk_reminder_sent_outbox_message_id_outbox_message"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_reminder_sent_registration_id_registration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_sent")),
    )
    with op.batch_alter_table("reminder_sent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_sent_event_id"), ["event_id"], unique=False)
        batch_op.create_index("uq_reminder_sent_once", ["registration_id", "hours_before"], unique=True)
    op.create_table(
        "approval_digest_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organiser.id"],
            name=op.f("fk_approval_digest_sent_organiser_id_organiser"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_message.id"],
            name=op.f("fk_approval_digest_sent_outbox_message_id_outbox_message"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_digest_sent")),
    )
    with op.batch_alter_table("approval_digest_sent", schema=None) as batch_op:
        batch_op.create_index("uq_approval_digest_sent_once", ["organiser_id", "day"], unique=True)
    _replace_check(KIND_NEW)


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE kind IN ('reminder', 'approval_digest')")
    _replace_check(KIND_OLD)
    op.drop_table("approval_digest_sent")
    op.drop_table("reminder_sent")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("reminder_hours")
