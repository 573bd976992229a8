"""Admin search text and list indexes, approved requests, GDPR anonymisation time.

Revision ID: 0005
Revises: 0004
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

# A copy of app.registration.search as it was when this revision was written: a
# migration must not change when the app's code does.
_NOT_DECOMPOSING = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i"})


def _fold(text):
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_NOT_DECOMPOSING))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.translate(_NOT_DECOMPOSING).split())


def search_text(row):
    parts = (row.first_name, row.last_name, row.email, row.organisation, row.city)
    return _fold(" ".join(part or "" for part in parts))[:800]


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_approved", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.String(length=800), server_default="", nullable=False))
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_registration_event_city", ["event_id", "city", "id"], unique=False)
        batch_op.create_index("ix_registration_event_created_at", ["event_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_registration_event_last_name", ["event_id", "last_name", "id"], unique=False)
        batch_op.create_index("ix_registration_event_organisation", ["event_id", "organisation", "id"], unique=False)

    # Fill the search text of existing registrations (folded, as the app wrote it then).
    connection = op.get_bind()
    registration = sa.table(
        "registration",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("email", sa.String),
        sa.column("organisation", sa.String),
        sa.column("city", sa.String),
        sa.column("search_text", sa.String),
    )
    rows = connection.execute(
        sa.select(
            registration.c.id,
            registration.c.first_name,
            registration.c.last_name,
            registration.c.email,
            registration.c.organisation,
            registration.c.city,
        )
    ).all()
    for row in rows:
        connection.execute(
            registration.update().where(registration.c.id == row.id).values(search_text=search_text(row))
        )


def downgrade():
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_event_organisation")
        batch_op.drop_index("ix_registration_event_last_name")
        batch_op.drop_index("ix_registration_event_created_at")
        batch_op.drop_index("ix_registration_event_city")
        batch_op.drop_column("anonymised_at")
        batch_op.drop_column("search_text")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("is_approved")
