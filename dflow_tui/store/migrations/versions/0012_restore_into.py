"""restore into another service: the operation names the service it imports into when
it is not the backup's own

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_service_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("operations_target_service", "services", ["target_service_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_constraint("operations_target_service", type_="foreignkey")
        batch_op.drop_column("target_service_id")
