"""Copies in more than one place: which copies a destination may have, and how a backup's
places and their outcome read. Pure: the facts come in, a refusal or a word comes out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dflow_tui.core.enums import BackupStatus, BackupType
from dflow_tui.core.errors import InvalidName

INTERNAL = BackupType.INTERNAL.value
SHORT_INTERNAL = "int"  # how `backup list` writes the server's disk among several places


@dataclass(frozen=True)
class Place:
    """Where one copy of a dump goes: the server's disk, or a storage provider (by name)."""

    type: BackupType
    provider: str | None = None

    @property
    def name(self) -> str:
        return self.provider if self.type == BackupType.EXTERNAL and self.provider else INTERNAL

    @classmethod
    def of(cls, word: str) -> Place:
        """`internal`, or a storage provider's name (`--copy b2`)."""
        word = word.strip()
        if not word:
            raise InvalidName("A copy needs a place: `internal` or a storage provider's name")
        if word == INTERNAL:
            return cls(BackupType.INTERNAL)
        return cls(BackupType.EXTERNAL, word)


def check_copies(primary: Place, copies: Sequence[Place]) -> None:
    """Each place holds one copy: no copy where the primary goes, none given twice."""
    seen = {primary.name}
    for copy in copies:
        if copy.name == primary.name:
            raise InvalidName(
                f"Copy {copy.name!r} is where the primary goes already: a copy goes to another place"
            )
        if copy.name in seen:
            raise InvalidName(f"Copy {copy.name!r} is given twice: each place holds one copy")
        seen.add(copy.name)


def places_label(names: Iterable[str]) -> str:
    """`int+b2+r2`: the primary first, then the copies."""
    return "+".join(SHORT_INTERNAL if name == INTERNAL else name for name in names)


def is_degraded(status: str, copy_statuses: Iterable[str]) -> bool:
    """A backup whose primary succeeded while one of its copies did not."""
    return status == BackupStatus.SUCCESS and any(s == BackupStatus.FAILED for s in copy_statuses)


@dataclass(frozen=True)
class Source:
    """One place a restore may read a backup's dump from: its primary (the backup row) or
    one of its copies (by the copy row's id)."""

    place: Place
    copy_id: int | None = None  # None: the primary

    @property
    def primary(self) -> bool:
        return self.copy_id is None

    def describe(self) -> str:
        """`the copy in r2`, `the primary on the server's disk`: what messages call it."""
        what = "primary" if self.primary else "copy"
        where = "on the server's disk" if self.place.type == BackupType.INTERNAL else f"in {self.place.name}"
        return f"the {what} {where}"


@dataclass(frozen=True)
class CopyFacts:
    """What the restore order needs to know of one of a backup's copies."""

    copy_id: int
    place: Place
    status: str
    removed: bool = False


def restore_order(primary: Place, copies: Iterable[CopyFacts]) -> list[Source]:
    """The places a restore tries, in turn: the server's disk first when the backup is there
    (its primary or a copy: nothing to download), then the primary, then the other copies in
    their order. Only copies that succeeded and were not removed are candidates."""
    sources = [Source(primary)] + [
        Source(c.place, c.copy_id) for c in copies if c.status == BackupStatus.SUCCESS and not c.removed
    ]
    on_disk = [s for s in sources if s.place.type == BackupType.INTERNAL]
    return on_disk + [s for s in sources if s.place.type != BackupType.INTERNAL]


def copy_refusal(backup_id: int, status: str, deleted: bool, primary: Place, to: Place) -> str | None:
    """Why `backup copy ID --to PLACE` cannot run now (None: it can). A copy already kept at
    that place is refused by the job only once it proved the copy is still there."""
    refused = uncopyable(backup_id, status, deleted)
    if refused is not None:
        return refused
    if to.name == primary.name:
        return (
            f"Backup {backup_id} is stored in {to.name} already (its primary): a copy goes to another place"
        )
    return None


def uncopyable(backup_id: int, status: str, deleted: bool) -> str | None:
    """Why no copy of this backup can be made anywhere (None: one can)."""
    if deleted:
        return f"Backup {backup_id} is deleted: there is nothing to copy"
    if status != BackupStatus.SUCCESS:
        return f"Backup {backup_id} is {BackupStatus(status).phrase}: only a backup that succeeded is copied"
    return None


def kept_copy_at(to: Place, copies: Iterable[CopyFacts]) -> CopyFacts | None:
    """The backup's copy at `to` recorded as kept (succeeded, not removed), if any."""
    for copy in copies:
        if copy.place.name == to.name and copy.status == BackupStatus.SUCCESS and not copy.removed:
            return copy
    return None


def copy_at(to: Place, copies: Iterable[CopyFacts]) -> CopyFacts | None:
    """The backup's copy row at `to`, whatever became of it (a repair redoes that row)."""
    return next((c for c in copies if c.place.name == to.name), None)
