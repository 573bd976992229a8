"""Check-in at the venue, and the series priority option of an event.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "check_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_by_id", sa.Integer(), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checked_in_by_id"],
            ["organiser.id"],
            name=op.f("fk_check_in_checked_in_by_id_organiser"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_check_in_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_check_in_registration_id_registration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_check_in_session_id_session"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"], ["organiser.id"], name=op.f("fk_check_in_undone_by_id_organiser"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in")),
    )
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_in_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_in_registration_id"), ["registration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_in_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            "uq_check_in_live",
            ["registration_id", "scope"],
            unique=True,
            sqlite_where=sa.text("undone_at IS NULL"),
            postgresql_where=sa.text("undone_at IS NULL"),
        )

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_priority", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("series_priority")

    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_check_in_live", sqlite_where=sa.text("undone_at IS NULL"), postgresql_where=sa.text("undone_at IS NULL")
        )
        batch_op.drop_index(batch_op.f("ix_check_in_session_id"))
        batch_op.drop_index(batch_op.f("ix_check_in_registration_id"))
        batch_op.drop_index(batch_op.f("ix_check_in_event_id"))

    op.drop_table("check_in")
