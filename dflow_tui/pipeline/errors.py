"""Errors of the data path, each one sentence a user can act on."""

from __future__ import annotations

from dflow_tui.core.errors import DflowError


class InvalidKey(DflowError):
    """A recipient (public key) or an identity (private key) that cannot be used."""


class IdentityNeeded(DflowError):
    """An encrypted backup cannot be restored without an identity."""


class WrongIdentity(DflowError):
    """The identity given is not one of the backup's recipients."""


class EncryptionFailed(DflowError):
    """age could not encrypt the stream (never seen with valid recipients; kept for a clear message)."""


class DecryptionFailed(DflowError):
    """The encrypted bytes are not age, or were altered or cut short: nothing decrypted may be trusted."""


class DecompressionFailed(DflowError):
    """The compressed bytes are not zstd, or were altered or cut short: nothing decompressed may be trusted."""


class PipelineBroken(DflowError):
    """A stage or the sink stopped reading before the end of its input: a bug, never a normal end."""


class PipelineStopped(Exception):
    """Raised inside a stage when the pipeline was aborted around it; the runner never lets it out.

    Deliberately not a DflowError: it is not the reason anything failed, only the way the
    other stages are told to stop.
    """
