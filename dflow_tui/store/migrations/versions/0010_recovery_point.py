"""recovery point: a service's own grace past its shortest tier before it is late, and
the dead-man ping URL its backups report to

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 17:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rpo_grace_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ping_url", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("ping_url")
        batch_op.drop_column("rpo_grace_seconds")
