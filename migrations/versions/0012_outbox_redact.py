"""Private parts of an outbox message's bodies, removed from the row once it is delivered.

Revision ID: 0012
Revises: 0011
"""

import re

from alembic import op
import sqlalchemy as sa

# A manage link's token, as the app builds it (/r/<token>, /r/<token>/confirm …).
MANAGE_TOKEN = re.compile(r"(/r/)([A-Za-z0-9_-]{20,100})")
REDACTED = "[removed]"

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # A server default: the previous release's code, still running while hosts restart one by
    # one, inserts rows without the column.
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redact", sa.JSON(), nullable=False, server_default="[]"))
    # Emails delivered before this revision still hold their working private links: remove them,
    # as delivery now does. Those not sent yet (or failed, which an organiser may retry) keep
    # theirs until they are delivered, named in the new column.
    connection = op.get_bind()
    outbox = sa.table(
        "outbox_message",
        sa.column("id", sa.Integer),
        sa.column("status", sa.String),
        sa.column("body_text", sa.Text),
        sa.column("body_html", sa.Text),
        sa.column("redact", sa.JSON),
    )
    rows = connection.execute(
        sa.select(outbox.c.id, outbox.c.status, outbox.c.body_text, outbox.c.body_html).where(
            outbox.c.body_text.like("%/r/%")
        )
    ).all()
    for row in rows:
        if row.status == "sent":
            values = {
                "body_text": MANAGE_TOKEN.sub(rf"\g<1>{REDACTED}", row.body_text),
                "body_html": MANAGE_TOKEN.sub(rf"\g<1>{REDACTED}", row.body_html),
            }
        else:
            values = {"redact": sorted({match.group(2) for match in MANAGE_TOKEN.finditer(row.body_text)})}
        connection.execute(outbox.update().where(outbox.c.id == row.id).values(**values))


def downgrade():
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("redact")
