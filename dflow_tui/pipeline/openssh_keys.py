"""Reading the public half out of an OpenSSH private key file, which stores it unencrypted.

An SSH identity's fingerprint must equal the fingerprint of the recipient it answers to, so
that "the identity given does not match" can name both; pyrage loads the key but cannot
give its public half back.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

_PEM_RE = re.compile(
    r"-----BEGIN OPENSSH PRIVATE KEY-----(?P<body>.*?)-----END OPENSSH PRIVATE KEY-----", re.DOTALL
)
_MAGIC = b"openssh-key-v1\0"


@dataclass(frozen=True)
class OpenSshPrivateKeyInfo:
    public_key: str  # "ssh-ed25519 AAAA…", as in a .pub file without the comment
    key_type: str
    passphrase_protected: bool


def is_openssh_private_key(text: str) -> bool:
    return "-----BEGIN OPENSSH PRIVATE KEY-----" in text


def read_openssh_private_key_info(text: str) -> OpenSshPrivateKeyInfo | None:
    """The key's public half and whether it is encrypted; None when the file does not parse."""
    match = _PEM_RE.search(text)
    if match is None:
        return None
    try:
        blob = base64.b64decode("".join(match.group("body").split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if not blob.startswith(_MAGIC):
        return None
    fields = _SshFields(blob, len(_MAGIC))
    try:
        cipher = fields.string()
        fields.string()  # kdf name
        fields.string()  # kdf options
        if fields.uint32() != 1:
            return None
        public = fields.string()
        key_type = _SshFields(public, 0).string().decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return OpenSshPrivateKeyInfo(
        public_key=f"{key_type} {base64.b64encode(public).decode('ascii')}",
        key_type=key_type,
        passphrase_protected=cipher != b"none",
    )


class _SshFields:
    """Reads the SSH wire encoding: big-endian uint32 lengths before byte strings."""

    def __init__(self, data: bytes, offset: int) -> None:
        self._data = data
        self._offset = offset

    def uint32(self) -> int:
        return int.from_bytes(self._take(4), "big")

    def string(self) -> bytes:
        return self._take(self.uint32())

    def _take(self, size: int) -> bytes:
        piece = self._data[self._offset : self._offset + size]
        if len(piece) != size:
            raise ValueError("truncated SSH key field")
        self._offset += size
        return piece
