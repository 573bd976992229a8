"""What an allocation run solved and gave, so that publishing a preview publishes exactly it; who published it.

Revision ID: 0013
Revises: 0012
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: runs made before have neither, and their previews can no longer be published
    # (the organiser runs a new preview), which is what the app tells them.
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("problem_fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("result_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("published_by_label", sa.String(length=254), nullable=True))


def downgrade():
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.drop_column("published_by_label")
        batch_op.drop_column("result_digest")
        batch_op.drop_column("problem_fingerprint")
