"""When the marketing consent was given or withdrawn.

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marketing_consent_at", sa.DateTime(timezone=True), nullable=True))
    # Until now the marketing consent could only be given on the registration form, together
    # with the data-processing consent: that is when the existing ones were given.
    op.execute(
        "UPDATE registration SET marketing_consent_at = consent_at "
        "WHERE has_marketing_consent AND anonymised_at IS NULL"
    )


def downgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("marketing_consent_at")
