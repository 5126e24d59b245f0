"""Who an age file is encrypted for, as far as its header tells, for the wrong-identity message.

An X25519 stanza does not name its recipient; an SSH stanza carries a 4-byte tag of the
key (`-> ssh-ed25519 TAG …`). That is all that is knowable without the right key.
"""

from __future__ import annotations

HEADER_LIMIT = 64 << 10
_VERSION_LINE = b"age-encryption.org/v1"


def describe_header_recipients(header: bytes) -> str | None:
    """E.g. "1 age key and the ssh-ed25519 key tagged BYmtkQ"; None when the bytes are not an age header."""
    lines = header.split(b"\n")
    if not lines or lines[0] != _VERSION_LINE:
        return None
    age_keys = 0
    others: list[str] = []
    for line in lines[1:]:
        if line.startswith(b"--- "):
            break
        if not line.startswith(b"-> "):
            continue
        words = line[3:].decode("ascii", "replace").split()
        if not words or words[0].endswith("-grease"):  # random stanzas age adds so parsers stay lenient
            continue
        if words[0] == "X25519":
            age_keys += 1
        elif words[0] in ("ssh-ed25519", "ssh-rsa") and len(words) >= 2:
            others.append(f"the {words[0]} key tagged {words[1]}")
        elif words[0] == "scrypt":
            others.append("a passphrase")
        else:
            others.append(f"a {words[0]} recipient")
    parts = ([f"{age_keys} age key" + ("s" if age_keys > 1 else "")] if age_keys else []) + others
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
