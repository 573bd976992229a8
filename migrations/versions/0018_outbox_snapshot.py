"""Outbox messages rendered when delivered: the snapshot of what the email says, instead of its bodies.

Revision ID: 0018
Revises: 0017
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: every message queued before (and every other kind) has its bodies written already.
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot", sa.JSON(), nullable=True))


def downgrade():
    # A message still waiting with a snapshot would be sent with empty bodies: render them first
    # (flask --app app outbox send) before downgrading.
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("snapshot")
