"""notifications: notifiers (their URLs live in the keyring), incidents (a failure streak
or a late spell of a service, one open of a kind at a time) and the messages waiting to
be delivered; when each service's schedule began

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:30:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from dflow_tui.store.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPEN = sa.text("closed_at IS NULL")
PENDING = sa.text("sent_at IS NULL AND given_up_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_since", UTCDateTime(), nullable=True))
    # A schedule already on counts from now: nobody is told it was late before they could know.
    services = sa.table("services", sa.column("id"), sa.column("schedule_since", UTCDateTime()))
    op.execute(
        services.update()
        .where(services.c.id.in_(sa.select(sa.column("service_id")).select_from(sa.table("schedule_tiers"))))
        .values(schedule_since=datetime.now(UTC))
    )
    op.create_table(
        "notifiers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
        sa.Column("events", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("services.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=True),
        sa.Column("reminded_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
    )
    op.create_index(
        "one_open_incident_per_kind",
        "incidents",
        ["service_id", "kind"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("notifier_id", sa.Integer(), sa.ForeignKey("notifiers.id"), nullable=False, index=True),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("service_path", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("given_up_at", UTCDateTime(), nullable=True),
    )
    op.create_index(
        "pending_notifications",
        "notifications",
        ["next_attempt_at"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_index("one_open_incident_per_kind", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("notifiers")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("schedule_since")
