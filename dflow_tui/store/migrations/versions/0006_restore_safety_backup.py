"""a restore carries its safety-backup request, whoever runs it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("safety_backup", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("safety_backup_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_operations_safety_backup_id_backups", "backups", ["safety_backup_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_operations_safety_backup_id_backups", type_="foreignkey")
        batch_op.drop_column("safety_backup_id")
        batch_op.drop_column("safety_backup")
