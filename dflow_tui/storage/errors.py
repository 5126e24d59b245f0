"""Storage errors, and provider errors turned into one sentence a sysadmin can act on.

Every text that leaves this package goes through `redact()` first: the secret
access key must never reach a reason, a log line or an exception message, even
when a library happens to echo it.

botocore's exception classes are imported inside the functions that tell them
apart, so importing this module does not load botocore (they are only ever
called with an error in hand, once a client was opened).
"""

from __future__ import annotations

import asyncio

from dflow_tui.core.errors import DflowError
from dflow_tui.core.redact import redact
from dflow_tui.core.safe_text import printable


class StorageError(DflowError):
    """An S3 call failed; the message is one clear, secret-free sentence."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class UploadAborted(StorageError):
    """An upload failed and its multipart upload was aborted: nothing was left behind."""


class UploadNotAborted(StorageError):
    """An upload failed AND aborting its multipart upload failed too.

    `upload_id` names the orphan; `doctor --fix` (or abort_uploads_of) removes it later.
    """

    def __init__(self, message: str, *, upload_id: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.upload_id = upload_id


def error_code(exc: BaseException) -> str | None:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        code = error.get("Code")
        if code:
            return str(code)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(status) if status else None
    return None


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}


def is_connection_error(exc: BaseException) -> bool:
    from aiohttp import ClientConnectionError, ClientPayloadError
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    return isinstance(
        exc,
        (
            EndpointConnectionError,
            ConnectionClosedError,
            ConnectTimeoutError,
            ReadTimeoutError,
            ResponseStreamingError,
            asyncio.TimeoutError,
            ConnectionError,
            ClientConnectionError,
            ClientPayloadError,
        ),
    )


# S3 action name (as in IAM policies) for each client operation we call.
_IAM_ACTION = {
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjectVersion": "s3:DeleteObjectVersion",
}


def describe(
    exc: BaseException,
    *,
    action: str,
    endpoint_url: str,
    bucket: str | None = None,
    key: str | None = None,
    secret: str | None = None,
) -> str:
    """One sentence saying what went wrong with `action`, with no secret in it."""
    from aiohttp import ClientConnectionError, ClientPayloadError
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
        ResponseStreamingError,
        SSLError,
    )

    where = f"s3://{bucket}/{key}" if bucket and key else (f"bucket {bucket!r}" if bucket else endpoint_url)
    code = error_code(exc)
    if isinstance(exc, ClientError):
        message = str((exc.response.get("Error", {}) or {}).get("Message") or "").strip()
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "SignatureDoesNotMatch":
            text = (
                "The provider rejected the secret access key (SignatureDoesNotMatch): "
                "check that the secret key belongs to this access key ID"
            )
        elif code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
            text = (
                f"The provider does not know this access key ID ({code}): "
                "check the access key ID, and that the key is active"
            )
        elif code == "NoSuchBucket":
            text = f"Bucket {bucket!r} does not exist at {endpoint_url} (NoSuchBucket): check the bucket name"
        elif code in ("AccessDenied", "403", "AllAccessDisabled"):
            permission = _IAM_ACTION.get(action, action)
            text = (
                f"Access denied for {action} on {where}: the key lacks the "
                f"{permission} permission there (AccessDenied)"
            )
        elif code in (
            "AuthorizationHeaderMalformed",
            "PermanentRedirect",
            "301",
            "IllegalLocationConstraintException",
        ):
            text = f"Bucket {bucket!r} is not in this region or at this endpoint ({code}): check the region and endpoint URL"
        elif code == "RequestTimeTooSkewed":
            text = "The clock of this machine is too far from the provider's (RequestTimeTooSkewed): fix the system time"
        elif code in ("NoSuchKey", "404", "NotFound"):
            text = f"{action} on {where} failed: the object does not exist"
        elif code == "NoSuchUpload":
            text = f"{action} on {where} failed: the multipart upload no longer exists (NoSuchUpload)"
        elif code == "EntityTooSmall":
            text = (
                f"{action} on {where} failed: a part was smaller than the provider's minimum (EntityTooSmall)"
            )
        elif code == "InvalidBucketName":
            text = f"Bucket name {bucket!r} is not valid (InvalidBucketName)"
        elif code in ("SlowDown", "Throttling", "ThrottlingException", "ServiceUnavailable", "503"):
            text = f"{action} on {where} failed: the provider is throttling or unavailable ({code}), try again later"
        elif status and int(status) >= 500:
            text = f"{action} on {where} failed: provider error {code} (HTTP {status}){': ' + message if message else ''}"
        else:
            text = f"{action} on {where} failed: {code}{': ' + message if message else ''}"
    elif isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        text = f"Cannot reach endpoint URL: {endpoint_url} (connection failed during {action})"
    elif isinstance(exc, ClientPayloadError):
        text = f"The connection to {endpoint_url} broke during {action}: the answer was cut short"
    elif isinstance(
        exc, (ConnectionClosedError, ResponseStreamingError, ConnectionError, ClientConnectionError)
    ):
        text = f"The connection to {endpoint_url} broke during {action}: {exc}"
    elif isinstance(exc, (ReadTimeoutError, asyncio.TimeoutError)):
        text = f"Endpoint {endpoint_url} stopped answering during {action} (read timeout)"
    elif isinstance(exc, SSLError):
        text = f"TLS error talking to endpoint URL {endpoint_url}: {exc}"
    elif isinstance(exc, NoCredentialsError):
        text = "No access key ID / secret access key were given for this provider"
    elif isinstance(exc, BotoCoreError):
        text = f"{action} on {where} failed: {exc}"
    elif isinstance(exc, DflowError):
        text = str(exc)
    else:
        text = f"{action} on {where} failed: {type(exc).__name__}: {exc}"
    return printable(redact(text, [secret]))


def storage_error(
    exc: BaseException,
    *,
    action: str,
    endpoint_url: str,
    bucket: str | None = None,
    key: str | None = None,
    secret: str | None = None,
    cls: type[StorageError] = StorageError,
) -> StorageError:
    return cls(
        describe(exc, action=action, endpoint_url=endpoint_url, bucket=bucket, key=key, secret=secret),
        code=error_code(exc),
    )
