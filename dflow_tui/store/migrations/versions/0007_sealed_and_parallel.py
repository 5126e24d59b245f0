"""compression, encryption and parallel transfers: what each backup stored, and how;
byte counts past 2 GiB

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storage_providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parallel", sa.Integer(), nullable=False, server_default="4"))
        batch_op.add_column(sa.Column("recipients", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compression", sa.String(), nullable=False, server_default="auto"))
    with op.batch_alter_table("backups", schema=None) as batch_op:
        # Dumps of 2 GiB and more: a 32-bit INTEGER (PostgreSQL's) cannot count their bytes.
        batch_op.alter_column("size_bytes", type_=sa.BigInteger(), existing_type=sa.Integer())
        batch_op.add_column(sa.Column("stored_size_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("stored_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("compression", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("encrypted_for", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_column("encrypted_for")
        batch_op.drop_column("compression")
        batch_op.drop_column("stored_sha256")
        batch_op.drop_column("stored_size_bytes")
        batch_op.alter_column("size_bytes", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("compression")
    with op.batch_alter_table("storage_providers", schema=None) as batch_op:
        batch_op.drop_column("recipients")
        batch_op.drop_column("parallel")
