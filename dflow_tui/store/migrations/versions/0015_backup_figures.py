"""what the live service held just before each backup's export (tables and rows; redis:
keys), for restore drills to compare with

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probe_tables", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("probe_rows", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("probe_rows")
        batch_op.drop_column("probe_tables")
