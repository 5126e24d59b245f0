"""age keys: recipients (public keys a backup is encrypted for) and identities (private keys to restore it).

Recipients are age X25519 keys (`age1…`) or OpenSSH `ssh-ed25519` / `ssh-rsa` public keys;
identities are an age identity file's `AGE-SECRET-KEY-1…` lines or an unencrypted OpenSSH
private key. Every refusal is one sentence and never repeats secret material.

Fingerprint: `sha256:` followed by the first 16 hex digits of the SHA-256 of the recipient's
canonical text (the `age1…` string, or `TYPE BASE64` of an SSH key without its comment). It
is short enough for a record or a message, stable across comments and whitespace, and the
same for an identity as for the recipient it answers to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TypeAlias

from pyrage import IdentityError, RecipientError, ssh, x25519

from dflow_tui.pipeline.errors import InvalidKey
from dflow_tui.pipeline.openssh_keys import is_openssh_private_key, read_openssh_private_key_info

NativeRecipient: TypeAlias = "x25519.Recipient | ssh.Recipient"
NativeIdentity: TypeAlias = "x25519.Identity | ssh.Identity"

SSH_RECIPIENT_TYPES = ("ssh-ed25519", "ssh-rsa")
AGE_PUBLIC_PREFIX = "age1"
AGE_SECRET_PREFIX = "AGE-SECRET-KEY-1"
_WHAT_A_RECIPIENT_IS = "an age public key (age1…) or an OpenSSH public key (ssh-ed25519 …, ssh-rsa …)"
_WHAT_AN_IDENTITY_IS = "an age identity (AGE-SECRET-KEY-1… lines) or an unencrypted OpenSSH private key"


def fingerprint(canonical_text: str) -> str:
    return "sha256:" + hashlib.sha256(canonical_text.encode("ascii")).hexdigest()[:16]


@dataclass(frozen=True)
class Recipient:
    """A public key a backup is encrypted for."""

    text: str  # canonical: what the fingerprint is taken of, and what to store
    kind: str  # "age", "ssh-ed25519" or "ssh-rsa"
    native: NativeRecipient = field(compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.text)


@dataclass(frozen=True)
class Identity:
    """One or more private keys, any of which may open a backup."""

    natives: tuple[NativeIdentity, ...] = field(repr=False)
    # Of the recipients these keys answer to, where knowable (an old PEM RSA key gives none).
    fingerprints: tuple[str, ...]


def parse_recipient(text: str) -> Recipient:
    """Validate one public key; InvalidKey with one sentence when it cannot be used."""
    text = text.strip()
    if not text:
        raise InvalidKey(f"The recipient is empty: give {_WHAT_A_RECIPIENT_IS}")
    if text.upper().startswith("AGE-SECRET-KEY-") or "PRIVATE KEY-----" in text:
        raise InvalidKey(
            "This is a private key, which must stay secret: give its public key instead "
            "(`age-keygen -y FILE` or the .pub file)"
        )
    if text.startswith(AGE_PUBLIC_PREFIX):
        return _parse_age_recipient(text)
    parts = text.split()
    if parts[0] in SSH_RECIPIENT_TYPES and len(parts) >= 2:
        return _parse_ssh_recipient(parts[0], parts[1])
    if parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise InvalidKey(
            f"SSH keys of type {parts[0][:40]} cannot be age recipients: use an ssh-ed25519 or "
            "ssh-rsa key, or an age key"
        )
    raise InvalidKey(f"{_shown(text)} is not a public key: give {_WHAT_A_RECIPIENT_IS}")


def parse_recipients(text: str) -> list[Recipient]:
    """One recipient per line, as in an age recipients file; blank lines and # comments are skipped."""
    recipients: list[Recipient] = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            recipient = parse_recipient(line)
            if recipient not in recipients:
                recipients.append(recipient)
    return recipients


def load_identity(text: str) -> Identity:
    """An age identity file's text or an OpenSSH private key file's text; InvalidKey when unusable."""
    if not text.strip():
        raise InvalidKey(f"The identity is empty: give {_WHAT_AN_IDENTITY_IS}")
    if is_openssh_private_key(text) or "-----BEGIN RSA PRIVATE KEY-----" in text:
        return _load_ssh_identity(text)
    natives: list[NativeIdentity] = []
    fingerprints: list[str] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.upper().startswith(AGE_SECRET_PREFIX):
            if line.startswith(AGE_PUBLIC_PREFIX) or line.startswith(SSH_RECIPIENT_TYPES):
                raise InvalidKey("This is a public key; restoring needs the matching private key (identity)")
            raise InvalidKey(f"Line {number} of the identity is not an age secret key (AGE-SECRET-KEY-1…)")
        try:
            native = x25519.Identity.from_str(line)
        except IdentityError:
            raise InvalidKey(f"Line {number} of the identity is not a valid age secret key") from None
        natives.append(native)
        fingerprints.append(fingerprint(str(native.to_public())))
    if not natives:
        raise InvalidKey(f"The identity holds no key: give {_WHAT_AN_IDENTITY_IS}")
    return Identity(natives=tuple(natives), fingerprints=tuple(fingerprints))


def _parse_age_recipient(text: str) -> Recipient:
    try:
        native = x25519.Recipient.from_str(text)
    except RecipientError:
        raise InvalidKey(
            f"{_shown(text)} is not a valid age X25519 public key (check it was copied whole; "
            "plugin keys such as age1yubikey1… are not supported)"
        ) from None
    return Recipient(text=str(native), kind="age", native=native)


def _parse_ssh_recipient(key_type: str, key_base64: str) -> Recipient:
    canonical = f"{key_type} {key_base64}"
    try:
        native = ssh.Recipient.from_str(canonical)
    except RecipientError:
        raise InvalidKey(f"{_shown(canonical)} is not a valid {key_type} public key") from None
    return Recipient(text=canonical, kind=key_type, native=native)


def _load_ssh_identity(text: str) -> Identity:
    info = read_openssh_private_key_info(text)
    if info is not None and info.passphrase_protected:
        raise InvalidKey(
            "This SSH private key is protected by a passphrase: give an unencrypted copy "
            "(ssh-keygen -p) or an age identity"
        )
    if info is not None and info.key_type not in SSH_RECIPIENT_TYPES:
        raise InvalidKey(
            f"SSH keys of type {info.key_type} cannot open age backups: use ssh-ed25519 or ssh-rsa"
        )
    try:
        native = ssh.Identity.from_buffer(text.encode("utf-8"))
    except IdentityError as exc:
        if "decrypted" in str(exc):
            raise InvalidKey(
                "This SSH private key is protected by a passphrase: give an unencrypted copy"
            ) from None
        raise InvalidKey(f"This SSH private key cannot be used: give {_WHAT_AN_IDENTITY_IS}") from None
    fingerprints = (fingerprint(info.public_key),) if info is not None else ()
    return Identity(natives=(native,), fingerprints=fingerprints)


def _shown(text: str) -> str:
    """Enough of a key to recognise it in a message, never a whole line of it."""
    return repr(text if len(text) <= 24 else text[:20] + "…")
