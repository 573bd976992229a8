"""Speakers of an event, the sessions they speak at, and partners' logos.

Revision ID: 0016
Revises: 0015
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "speaker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role_pl", sa.String(length=200), nullable=False),
        sa.Column("role_en", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("bio_pl", sa.Text(), nullable=False),
        sa.Column("bio_en", sa.Text(), nullable=False),
        sa.Column("photo", sa.String(length=80), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], name=op.f("fk_speaker_event_id_event"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speaker")),
    )
    with op.batch_alter_table("speaker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_speaker_event_id"), ["event_id"], unique=False)

    op.create_table(
        "session_speaker",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("speaker_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name=op.f("fk_session_speaker_session_id_session"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["speaker_id"], ["speaker.id"], name=op.f("fk_session_speaker_speaker_id_speaker"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_id", "speaker_id", name=op.f("pk_session_speaker")),
    )
    with op.batch_alter_table("session_speaker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_speaker_speaker_id"), ["speaker_id"], unique=False)

    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logo", sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table("partner", schema=None) as batch_op:
        batch_op.drop_column("logo")
    with op.batch_alter_table("session_speaker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_speaker_speaker_id"))
    op.drop_table("session_speaker")
    with op.batch_alter_table("speaker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_speaker_event_id"))
    op.drop_table("speaker")
