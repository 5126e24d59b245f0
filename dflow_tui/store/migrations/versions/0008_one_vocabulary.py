"""one vocabulary: a backup that worked is `succeeded` (was `success`), as audit results are
succeeded, failed, refused or cancelled; safety backups say so in their trigger

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 14:30:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Words earlier versions wrote, and the one each now reads as.
RESULTS = {"ok": "succeeded", "success": "succeeded", "requested": "succeeded", "denied": "refused"}


def upgrade() -> None:
    for old, new in RESULTS.items():
        op.execute(f"UPDATE audit_log SET result = '{new}' WHERE result = '{old}'")
    op.execute("UPDATE backups SET status = 'succeeded' WHERE status = 'success'")
    op.execute(
        """UPDATE backups SET "trigger" = 'safety' """
        "WHERE id IN (SELECT safety_backup_id FROM operations WHERE safety_backup_id IS NOT NULL)"
    )


def downgrade() -> None:
    # Audit results stay in the new words: the old ones cannot be told apart again.
    op.execute("""UPDATE backups SET "trigger" = 'manual' WHERE "trigger" = 'safety'""")
    op.execute("UPDATE backups SET status = 'success' WHERE status = 'succeeded'")
