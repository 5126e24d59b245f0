"""Which layers a stored dump has, told by its name: `.dump`, `.dump.zst`, `.dump.age`, `.dump.zst.age`.

The name is the only place the layers are written down on the storage side, so anyone with
the standard tools can undo them in order (`age -d`, then `zstd -d`), and a restore knows
which stages to run backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from dflow_tui.core.errors import InvalidName
from dflow_tui.core.naming import AGE_SUFFIX, DUMP_SUFFIX, ZSTD_SUFFIX


@dataclass(frozen=True)
class Layers:
    compressed: bool = False
    encrypted: bool = False

    @property
    def suffix(self) -> str:
        """Compression comes first (encrypted bytes do not compress), so `.zst` before `.age`."""
        return DUMP_SUFFIX + (ZSTD_SUFFIX if self.compressed else "") + (AGE_SUFFIX if self.encrypted else "")

    def name(self, dump_name: str) -> str:
        """`shop-db-2026-01-02-03-04-05-678.dump` -> the same with this object's suffix."""
        if not dump_name.endswith(DUMP_SUFFIX):
            raise InvalidName(f"{dump_name!r} is not a dump name (it must end with {DUMP_SUFFIX})")
        return dump_name[: -len(DUMP_SUFFIX)] + self.suffix

    @classmethod
    def of(cls, name: str) -> Layers:
        """The layers of a stored object, from its name (or object key)."""
        for layers in ALL_LAYERS:
            if name.endswith(layers.suffix):
                return layers
        raise InvalidName(
            f"{name!r} is not a dump name: it must end with .dump, .dump.zst, .dump.age or .dump.zst.age"
        )

    @staticmethod
    def dump_name(name: str) -> str:
        """The plain dump's name under the layers: `x.dump.zst.age` -> `x.dump`."""
        return name[: len(name) - len(Layers.of(name).suffix)] + DUMP_SUFFIX


ALL_LAYERS = (Layers(True, True), Layers(False, True), Layers(True, False), Layers(False, False))
