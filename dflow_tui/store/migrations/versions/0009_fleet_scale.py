"""fleet scale: a per-server limit on the jobs workers run at once; an index for the
scheduler pass's one query over every service

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KEPT_SCHEDULED_SUCCESS = sa.text("status = 'succeeded' AND \"trigger\" = 'scheduled' AND deleted_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_jobs", sa.Integer(), nullable=False, server_default="2"))
    op.create_index(
        "last_scheduled_success",
        "backups",
        ["service_id", "schedule_tier", "created_at"],
        sqlite_where=KEPT_SCHEDULED_SUCCESS,
        postgresql_where=KEPT_SCHEDULED_SUCCESS,
    )


def downgrade() -> None:
    op.drop_index("last_scheduled_success", table_name="backups")
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.drop_column("max_jobs")
