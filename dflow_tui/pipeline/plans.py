"""The stages of a backup and of a restore, in order, with the taps whose figures the records keep.

Backup: plain tap -> [zstd] -> [age] -> stored tap. Restore runs it backwards: stored tap ->
[age] -> [zstd] -> plain tap. The plain tap gives the sha256 a restore checks on the server
before importing; the stored tap gives the object's own size and sha256. Without layers the
two are the same bytes, so one tap serves as both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dflow_tui.pipeline.compression import DEFAULT_LEVEL, DEFAULT_WORKERS, ZstdCompress, ZstdDecompress
from dflow_tui.pipeline.encryption import AgeDecrypt, AgeEncrypt
from dflow_tui.pipeline.errors import IdentityNeeded
from dflow_tui.pipeline.keys import Identity, Recipient
from dflow_tui.pipeline.naming import Layers
from dflow_tui.pipeline.stage import Stage
from dflow_tui.pipeline.tap import Tap


@dataclass(frozen=True)
class Plan:
    """Stages for one run of run_pipeline (single use), and the taps to read once it succeeded."""

    layers: Layers
    stages: tuple[Stage, ...]
    plain: Tap
    stored: Tap


def backup_plan(
    *,
    compress: bool,
    recipients: Sequence[Recipient] = (),
    level: int = DEFAULT_LEVEL,
    zstd_workers: int = DEFAULT_WORKERS,
) -> Plan:
    """Encryption is on exactly when recipients are given."""
    layers = Layers(compressed=compress, encrypted=bool(recipients))
    plain = Tap("plain-tap")
    stored = Tap("stored-tap") if layers != Layers() else plain
    stages: list[Stage] = [plain]
    if compress:
        stages.append(ZstdCompress(level, workers=zstd_workers))
    if recipients:
        stages.append(AgeEncrypt(recipients))
    if stored is not plain:
        stages.append(stored)
    return Plan(layers=layers, stages=tuple(stages), plain=plain, stored=stored)


def restore_plan(
    layers: Layers, *, identity: Identity | None = None, encrypted_for: Sequence[str] = ()
) -> Plan:
    """`encrypted_for`: the recipients' fingerprints from the record, for a clearer refusal."""
    if layers.encrypted and identity is None:
        whom = f" for {', '.join(encrypted_for)}" if encrypted_for else ""
        raise IdentityNeeded(f"This backup is encrypted{whom}; restoring it needs an identity (private key)")
    stored = Tap("stored-tap")
    plain = Tap("plain-tap") if layers != Layers() else stored
    stages: list[Stage] = [stored]
    if layers.encrypted and identity is not None:
        stages.append(AgeDecrypt(identity, encrypted_for=encrypted_for))
    if layers.compressed:
        stages.append(ZstdDecompress())
    if plain is not stored:
        stages.append(plain)
    return Plan(layers=layers, stages=tuple(stages), plain=plain, stored=stored)
