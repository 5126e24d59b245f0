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
