"""cancel requests on running jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dflow_tui.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cancel_requested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("irreversible_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_column("irreversible_at")
        batch_op.drop_column("cancel_requested_by")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested_by")
