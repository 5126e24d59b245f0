"""Credentials never reach a stored error, a log line or the screen: the one place that masks them."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"
# user:password@host in URLs; secret=… / password=… / token=… pairs (aws_secret_access_key too)
URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<password>[^@\s]+)@", re.I)
SECRET_PAIR = re.compile(
    r"(?P<key>(secret|password|passwd|token|signature)[_-]?(access[_-]?key)?\s*[=:]\s*)(?P<value>[^\s&,;'\"]+)",
    re.I,
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every known secret (4 characters or more), URL password and
    `secret=…`-style value replaced by MASK."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return SECRET_PAIR.sub(lambda m: f"{m['key']}{MASK}", text)
