"""The data path of external backups and restores: stages joined by bounded channels.

Low level on purpose: only the standard library, zstandard, pyrage and core.errors, so the
jobs can put an SSH stream at one end and an S3 upload at the other.
"""

from dflow_tui.pipeline.compression import ZstdCompress, ZstdDecompress
from dflow_tui.pipeline.encryption import AgeDecrypt, AgeEncrypt
from dflow_tui.pipeline.errors import (
    DecompressionFailed,
    DecryptionFailed,
    EncryptionFailed,
    IdentityNeeded,
    InvalidKey,
    PipelineBroken,
    WrongIdentity,
)
from dflow_tui.pipeline.keys import (
    Identity,
    Recipient,
    fingerprint,
    load_identity,
    parse_recipient,
    parse_recipients,
)
from dflow_tui.pipeline.naming import Layers
from dflow_tui.pipeline.plans import Plan, backup_plan, restore_plan
from dflow_tui.pipeline.runner import DEFAULT_CHUNK_SIZE, DEFAULT_DEPTH, run_pipeline
from dflow_tui.pipeline.stage import Stage
from dflow_tui.pipeline.tap import Tap

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DEPTH",
    "AgeDecrypt",
    "AgeEncrypt",
    "DecompressionFailed",
    "DecryptionFailed",
    "EncryptionFailed",
    "Identity",
    "IdentityNeeded",
    "InvalidKey",
    "Layers",
    "PipelineBroken",
    "Plan",
    "Recipient",
    "Stage",
    "Tap",
    "WrongIdentity",
    "ZstdCompress",
    "ZstdDecompress",
    "backup_plan",
    "fingerprint",
    "load_identity",
    "parse_recipient",
    "parse_recipients",
    "restore_plan",
    "run_pipeline",
]
