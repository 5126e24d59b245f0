"""schedules and workers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 02:56:56.987624
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dflow_tui.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("expires_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("started_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "schedule_tiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "tier"),
    )
    with op.batch_alter_table("schedule_tiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_tiers_service_id"), ["service_id"], unique=False)

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule_failures", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("schedule_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(
            sa.Column("retry_after", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True)
        )

    op.execute("INSERT INTO scheduler_lock (id) VALUES (1)")


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("retry_after")
        batch_op.drop_column("schedule_error")
        batch_op.drop_column("schedule_failures")

    with op.batch_alter_table("schedule_tiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_tiers_service_id"))

    op.drop_table("schedule_tiers")
    op.drop_table("workers")
    op.drop_table("scheduler_lock")
