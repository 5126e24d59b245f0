"""age stages: encrypt a stream for a list of recipients, and decrypt it with an identity.

pyrage streams only through file-like objects (`encrypt_io`/`decrypt_io` call `read(n)` and
`write(b)` until the end), so each stage hands it the channel's reader and writer in its own
thread; the bounded channels keep the whole dump out of memory. The output is the standard
binary age format (`age -d -i KEYFILE` reads it). age authenticates every 64 KiB chunk and
marks the last one, so altered or truncated input fails the stage: whatever it wrote before
failing must be thrown away, and the runner never ends its output as if complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BufferedIOBase
from typing import cast

import pyrage

from dflow_tui.pipeline.age_header import HEADER_LIMIT, describe_header_recipients
from dflow_tui.pipeline.errors import DecryptionFailed, EncryptionFailed, InvalidKey, WrongIdentity
from dflow_tui.pipeline.keys import Identity, Recipient
from dflow_tui.pipeline.streams import ChannelReader, ChannelWriter

NOT_AGE = "The backup is not an age-encrypted file, or its header is damaged"
DAMAGED = (
    "The encrypted backup is damaged or incomplete: its age authentication failed, "
    "so nothing decrypted from it can be trusted"
)


class AgeEncrypt:
    """Encrypts the stream for every recipient given; any one of their identities opens it."""

    name = "age-encrypt"

    def __init__(self, recipients: Sequence[Recipient]) -> None:
        if not recipients:
            raise InvalidKey("Encrypting a backup needs at least one recipient (public key)")
        self.recipients = tuple(recipients)

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        natives = [recipient.native for recipient in self.recipients]
        try:
            # pyrage only calls read(n)/write(b)/flush(): duck-typed file objects suffice.
            pyrage.encrypt_io(cast(BufferedIOBase, reader), cast(BufferedIOBase, writer), natives)
        except pyrage.EncryptError as exc:
            raise EncryptionFailed(f"Encrypting the backup failed: {exc}") from None


class AgeDecrypt:
    """Decrypts with an identity; `encrypted_for` (fingerprints from the record) sharpens the refusal."""

    name = "age-decrypt"

    def __init__(self, identity: Identity, *, encrypted_for: Sequence[str] = ()) -> None:
        self.identity = identity
        self.encrypted_for = tuple(encrypted_for)

    def run(self, reader: ChannelReader, writer: ChannelWriter) -> None:
        keeper = _HeaderKeeper(reader)
        try:
            pyrage.decrypt_io(
                cast(BufferedIOBase, keeper), cast(BufferedIOBase, writer), list(self.identity.natives)
            )
        except pyrage.DecryptError as exc:
            if "No matching keys" in str(exc):
                raise WrongIdentity(self._wrong_identity(bytes(keeper.kept))) from None
            raise DecryptionFailed(NOT_AGE) from None
        except OSError:  # how pyrage reports a chunk whose authentication failed
            raise DecryptionFailed(DAMAGED) from None

    def _wrong_identity(self, header: bytes) -> str:
        intended = ", ".join(self.encrypted_for) or describe_header_recipients(header) or "other keys"
        given = ", ".join(self.identity.fingerprints)
        given_part = f" ({given})" if given else ""
        return f"This backup is encrypted for {intended}; the identity given{given_part} does not match any of them"


class _HeaderKeeper:
    """Passes reads through, keeping the first bytes (the age header) for the wrong-identity message."""

    def __init__(self, reader: ChannelReader) -> None:
        self._reader = reader
        self.kept = bytearray()

    def read(self, size: int | None = -1) -> bytes:
        data = self._reader.read(size)
        if len(self.kept) < HEADER_LIMIT:
            self.kept += data[: HEADER_LIMIT - len(self.kept)]
        return data

    def readable(self) -> bool:
        return True
