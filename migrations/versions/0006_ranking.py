"""Ranked allocation: runs and outcomes, offers of freed places, the preference deadline.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BOOKING_OLD = ("confirmed", "waitlisted", "requested", "cancelled")
BOOKING_NEW = BOOKING_OLD + ("offered",)
KIND_OLD = (
    "registration_received",
    "changes_confirmed",
    "booking_cancelled",
    "registration_cancelled",
    "promoted",
    "request_approved",
    "request_declined",
    "manage_link",
)
KIND_NEW = KIND_OLD + ("ranked_result", "ranked_offer")


def _replace_check(table, name, column, values):
    """Replace a CHECK constraint listing an enum's values (batch mode rebuilds SQLite tables)."""
    listed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.create_check_constraint(op.f(name), f"{column} IN ({listed})")


def upgrade():
    op.create_table(
        "allocation_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "preview",
                "published",
                "reopened",
                name="allocation_run_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("objective", sa.String(length=20), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("mix_attribute", sa.String(length=20), nullable=True),
        sa.Column("mix_max_per_group", sa.Integer(), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_label", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["organiser.id"],
            name=op.f("fk_allocation_run_created_by_id_organiser"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_allocation_run_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_run")),
    )
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocation_run_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            "uq_allocation_run_published",
            ["event_id"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )

    op.create_table(
        "allocation_outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("slot_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("waitlist", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["session_group.id"],
            name=op.f("fk_allocation_outcome_group_id_session_group"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_allocation_outcome_registration_id_registration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["allocation_run.id"],
            name=op.f("fk_allocation_outcome_run_id_allocation_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_allocation_outcome_session_id_session"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_outcome")),
    )
    with op.batch_alter_table("allocation_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allocation_outcome_registration_id"), ["registration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_allocation_outcome_run_id"), ["run_id"], unique=False)

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preference_deadline", sa.DateTime(timezone=True), nullable=True))

    _replace_check("booking", "ck_booking_booking_status", "status", BOOKING_NEW)
    _replace_check("outbox_message", "ck_outbox_message_message_kind", "kind", KIND_NEW)


def downgrade():
    op.execute("DELETE FROM outbox_message WHERE kind IN ('ranked_result', 'ranked_offer')")
    op.execute("UPDATE booking SET status = 'waitlisted' WHERE status = 'offered'")
    _replace_check("outbox_message", "ck_outbox_message_message_kind", "kind", KIND_OLD)
    _replace_check("booking", "ck_booking_booking_status", "status", BOOKING_OLD)
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("preference_deadline")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("offer_expires_at")

    with op.batch_alter_table("allocation_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allocation_outcome_run_id"))
        batch_op.drop_index(batch_op.f("ix_allocation_outcome_registration_id"))

    op.drop_table("allocation_outcome")
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_allocation_run_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index(batch_op.f("ix_allocation_run_event_id"))

    op.drop_table("allocation_run")
