"""which of a backup's places (its primary or one of its copies) a restore or drill read
its dump from

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restored_from", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_column("restored_from")
