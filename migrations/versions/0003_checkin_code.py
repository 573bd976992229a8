"""A short check-in code per registration, for badges and the venue.

Revision ID: 0003
Revises: 0002
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def upgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkin_code", sa.String(length=12), nullable=True))
    connection = op.get_bind()
    registration = sa.table("registration", sa.column("id", sa.Integer), sa.column("checkin_code", sa.String))
    for (registration_id,) in connection.execute(sa.select(registration.c.id)).all():
        code = "".join(secrets.choice(ALPHABET) for _ in range(8))
        connection.execute(registration.update().where(registration.c.id == registration_id).values(checkin_code=code))
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.alter_column("checkin_code", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_unique_constraint("uq_registration_checkin_code", ["event_id", "checkin_code"])


def downgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint("uq_registration_checkin_code", type_="unique")
        batch_op.drop_column("checkin_code")
