"""Where one of a backup's places holds its dump, as a restore, a drill and `backup copy`
read it: the primary (the backup row itself) or one of its copies."""

from __future__ import annotations

from dataclasses import dataclass

from dflow_tui.core.copies import Source
from dflow_tui.core.enums import BackupType
from dflow_tui.core.errors import DflowError
from dflow_tui.jobs.identities import encrypted_for
from dflow_tui.jobs.storage_access import StoredObject, stored_object
from dflow_tui.pipeline import Layers
from dflow_tui.store.tables import Backup, BackupCopy


@dataclass(frozen=True)
class Dump:
    """A file on a server's disk, or an object in a bucket; the figures its record holds
    for the stored bytes."""

    type: BackupType
    server_id: int | None = None  # internal: the server whose disk holds it
    file_path: str | None = None
    stored: StoredObject | None = None  # external: the object
    stored_sha256: str | None = None
    stored_size: int | None = None
    recipients: tuple[str, ...] = ()  # encrypted for these fingerprints

    @property
    def layers(self) -> Layers:
        return Layers.of(self.file_path or (self.stored.key if self.stored else ""))


def primary_dump(backup: Backup) -> Dump:
    if backup.type == BackupType.INTERNAL:
        return Dump(
            BackupType.INTERNAL,
            backup.server_id,
            backup.file_path,
            stored_sha256=backup.stored_sha256 or backup.sha256,
            stored_size=backup.stored_size_bytes or backup.size_bytes,
        )
    return Dump(
        BackupType.EXTERNAL,
        stored=stored_object(backup),
        stored_sha256=backup.stored_sha256,
        recipients=tuple(encrypted_for(backup)),
    )


def copy_dump(backup: Backup, copy: BackupCopy) -> Dump:
    if copy.type == BackupType.INTERNAL:
        return Dump(
            BackupType.INTERNAL,
            copy.server_id or backup.server_id,
            copy.file_path,
            stored_sha256=copy.stored_sha256 or backup.sha256,
            stored_size=copy.stored_size_bytes or backup.size_bytes,
        )
    if copy.provider_id is None or not copy.bucket or not copy.object_key:
        raise DflowError(f"A copy of backup {backup.id} names no storage provider, bucket and key")
    return Dump(
        BackupType.EXTERNAL,
        stored=StoredObject(copy.provider_id, copy.bucket, copy.object_key, copy.version_id),
        stored_sha256=copy.stored_sha256,
        recipients=tuple(encrypted_for(copy)),
    )


def dump_at(backup: Backup, source: Source, copies_by_id: dict[int | None, BackupCopy]) -> Dump:
    """The dump at one of the places `core.copies.restore_order` lists."""
    if source.copy_id is None:
        return primary_dump(backup)
    return copy_dump(backup, copies_by_id[source.copy_id])
