"""Eligibility by official email domain or invitation code; double opt-in holds.

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "invitation_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("recipient_email", sa.String(length=254), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_uses >= 1", name=op.f("ck_invitation_code_max_uses_positive")),
        sa.CheckConstraint("uses >= 0 AND uses <= max_uses", name=op.f("ck_invitation_code_uses_within_max")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["organiser.id"],
            name=op.f("fk_invitation_code_created_by_id_organiser"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_invitation_code_session_id_session"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_code")),
        sa.UniqueConstraint("code", name=op.f("uq_invitation_code_code")),
    )
    with op.batch_alter_table("invitation_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitation_code_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invitation_code_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_booking_invitation_code_id"), ["invitation_code_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_booking_invitation_code_id_invitation_code"),
            "invitation_code",
            ["invitation_code_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requires_email_confirmation", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("confirmation_hold_hours", sa.Integer(), server_default="24", nullable=False))

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmation_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_email_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eligible_domains", sa.JSON(), server_default="[]", nullable=False))


def downgrade():
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("eligible_domains")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("confirmed_email_at")
        batch_op.drop_column("confirmation_expires_at")

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("confirmation_hold_hours")
        batch_op.drop_column("requires_email_confirmation")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_booking_invitation_code_id_invitation_code"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_booking_invitation_code_id"))
        batch_op.drop_column("invitation_code_id")

    with op.batch_alter_table("invitation_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitation_code_session_id"))

    op.drop_table("invitation_code")
