"""copies in more than one place: a service's copy destinations beside its primary, and
each backup's copies (where, the stored bytes' figures, layers, outcome, removal)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from dflow_tui.store.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_copies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.Integer(), sa.ForeignKey("services.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("storage_providers.id"), nullable=True),
        sa.UniqueConstraint("service_id", "position"),
    )
    op.create_table(
        "backup_copies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("backup_id", sa.Integer(), sa.ForeignKey("backups.id"), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("server_id", sa.Integer(), sa.ForeignKey("servers.id"), nullable=True),
        sa.Column("file_path", sa.String(), nullable=True),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("storage_providers.id"), nullable=True),
        sa.Column("bucket", sa.String(), nullable=True),
        sa.Column("object_key", sa.String(), nullable=True),
        sa.Column("version_id", sa.String(), nullable=True),
        sa.Column("stored_size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("stored_sha256", sa.String(), nullable=True),
        sa.Column("compression", sa.String(), nullable=True),
        sa.Column("encrypted_for", sa.String(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("backup_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("backup_copies")
    op.drop_table("service_copies")
