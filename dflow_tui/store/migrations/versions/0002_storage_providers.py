"""storage providers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 02:50:46.441321
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dflow_tui.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("endpoint_url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("bucket", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("access_key_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("verified_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", dflow_tui.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("storage_providers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_storage_providers_name"), ["name"], unique=True)

    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_foreign_key("fk_backups_provider_id", "storage_providers", ["provider_id"], ["id"])

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_services_provider_id", "storage_providers", ["provider_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_constraint("fk_services_provider_id", type_="foreignkey")
        batch_op.drop_column("provider_id")

    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_constraint("fk_backups_provider_id", type_="foreignkey")
        batch_op.drop_column("version_id")

    with op.batch_alter_table("storage_providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_providers_name"))

    op.drop_table("storage_providers")
