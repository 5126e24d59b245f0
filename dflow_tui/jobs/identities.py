"""Which private key opens an encrypted backup, found before anything is restored.

An identity is given to this process for one restore (`backup restore --identity FILE`), or
saved in this host's keyring (`dflow-tui identity add`), where the one whose fingerprints
match the backup's recipients is taken. A backup host needs only public keys; only the host
that restores needs an identity.
"""

from __future__ import annotations

from dflow_tui.core.enums import BackupStatus
from dflow_tui.jobs.context import JobContext
from dflow_tui.pipeline import Identity, IdentityNeeded, WrongIdentity, load_identity
from dflow_tui.secrets import get_secret_async, identity_secret_name, saved_identities_async
from dflow_tui.store.queries import copies, rows
from dflow_tui.store.tables import Backup, BackupCopy


def encrypted_for(stored: Backup | BackupCopy) -> list[str]:
    """The fingerprints a backup's primary, or one of its copies, is encrypted for."""
    return [f for f in (stored.encrypted_for or "").split(",") if f]


async def identity_for(ctx: JobContext, backup: Backup, given: str | None) -> Identity | None:
    """The identity that opens `backup`'s primary (None when it is not encrypted); one clear
    sentence when there is none, or when the one given opens something else — unless one of
    its copies can be read here (not encrypted, or for an identity here): then None, and a
    restore passes the primary over for that copy."""
    try:
        return await identity_opening(ctx, backup.id, encrypted_for(backup), given)
    except (IdentityNeeded, WrongIdentity):
        for copy in await copies.backup_copies(ctx.db, rows.saved_id(backup.id)):
            if copy.status != BackupStatus.SUCCESS or copy.deleted_at is not None:
                continue
            try:
                await identity_opening(ctx, backup.id, encrypted_for(copy), given)
            except (IdentityNeeded, WrongIdentity):
                continue
            return None
        raise


async def identity_opening(
    ctx: JobContext, backup_id: int | None, recipients: list[str], given: str | None
) -> Identity | None:
    """The identity that opens a dump sealed for `recipients` (one of backup `backup_id`'s
    places); None when it is not encrypted."""
    if not recipients:
        return None
    whom = ", ".join(recipients)
    if given is not None:
        _remember_secret(ctx, given)
        identity = load_identity(given)
        if identity.fingerprints and not set(identity.fingerprints) & set(recipients):
            raise WrongIdentity(
                f"Backup {backup_id} is encrypted for {whom}; the identity given "
                f"({', '.join(identity.fingerprints)}) is not one of them: nothing was restored"
            )
        return identity
    for name, fingerprints in (await saved_identities_async()).items():
        if set(fingerprints) & set(recipients):
            text = await get_secret_async(identity_secret_name(name))
            if text:
                _remember_secret(ctx, text)
                return load_identity(text)
    raise IdentityNeeded(
        f"Backup {backup_id} is encrypted for {whom}; restoring it needs the matching identity: "
        "give it with `--identity FILE`, or save it on this host with `dflow-tui identity add NAME FILE`"
    )


def _remember_secret(ctx: JobContext, text: str) -> None:
    """No error text may carry a private key: each of its lines is masked wherever it shows."""
    ctx.secrets.update(line.strip() for line in text.splitlines() if len(line.strip()) >= 16)
