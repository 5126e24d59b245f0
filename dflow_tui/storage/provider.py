"""What it takes to reach one S3-compatible bucket, and what a verify found."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

from dflow_tui.core.errors import DflowError
from dflow_tui.settings import DEFAULT_PREFIX, DEFAULT_REGION

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_REGION",
    "InvalidStorageConfig",
    "StorageConfig",
    "VerifyResult",
    "normalize_prefix",
]

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
IP_LIKE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
PREFIX_PART_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class InvalidStorageConfig(DflowError):
    pass


def normalize_prefix(prefix: str | None) -> str:
    """`/dflow/backups/` → `dflow/backups`; None or '' → '' (bucket root)."""
    return "/".join(part for part in (prefix or "").split("/") if part)


@dataclass(frozen=True)
class StorageConfig:
    """An S3-compatible provider. The secret comes from the keyring, never the DB.

    `repr()` and `str()` never show the secret access key.
    """

    endpoint_url: str
    region: str
    bucket: str
    prefix: str = DEFAULT_PREFIX
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        parsed = urlparse(self.endpoint_url or "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InvalidStorageConfig(
                f"Invalid endpoint URL {self.endpoint_url!r}: give a full URL such as "
                "'https://s3.eu-central-003.backblazeb2.com'"
            )
        if not (self.bucket or "").strip():
            raise InvalidStorageConfig("The bucket name is empty")
        if not BUCKET_RE.fullmatch(self.bucket) or ".." in self.bucket or IP_LIKE.fullmatch(self.bucket):
            raise InvalidStorageConfig(
                f"Invalid bucket name {self.bucket!r}: 3 to 63 lowercase letters, digits, '.' and '-', "
                "starting and ending with a letter or digit"
            )
        prefix = normalize_prefix(self.prefix)
        if not all(
            PREFIX_PART_RE.fullmatch(part) and part not in (".", "..") for part in prefix.split("/") if part
        ):
            raise InvalidStorageConfig(
                f"Invalid prefix {self.prefix!r}: use letters, digits, '.', '-', '_' and '/' (no '..')"
            )
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "region", (self.region or "").strip() or DEFAULT_REGION)

    def key_for(self, name: str) -> str:
        """`{prefix}/{name}` (or just `name` with an empty prefix)."""
        return f"{self.prefix}/{name}" if self.prefix else name

    @property
    def location(self) -> str:
        """`s3://bucket/prefix/` for messages (no secret in it)."""
        return f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    reason: str
