"""restore drills: the throwaway service an operation of kind `drill` made, when it made
it, and what it counted in it

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:15:00
"""

import sqlalchemy as sa
from alembic import op

from dflow_tui.store.types import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drill_service", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("drill_created_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("probe", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_column("probe")
        batch_op.drop_column("drill_created_at")
        batch_op.drop_column("drill_service")
