"""Password reset links of organiser accounts, and their email as a kind of outbox message.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
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
)
KIND_NEW = KIND_OLD + ("password_reset",)


def _replace_check(values):
    """Replace the CHECK constraint listing the message kinds (batch mode rebuilds SQLite tables)."""
    listed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_message_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_outbox_message_message_kind"), f"kind IN ({listed})")


def upgrade():
    op.create_table(
        "password_reset_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organiser_id"],
            ["organiser.id"],
            name=op.f("fk_password_reset_token_organiser_id_organiser"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_token_token_hash")),
    )
    with op.batch_alter_table("password_reset_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_reset_token_organiser_id"), ["organiser_id"], unique=False)
    _replace_check(KIND_NEW)


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE kind = 'password_reset'")
    _replace_check(KIND_OLD)
    with op.batch_alter_table("password_reset_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_reset_token_organiser_id"))
    op.drop_table("password_reset_token")
