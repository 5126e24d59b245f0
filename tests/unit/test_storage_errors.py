"""Provider errors → one clear, secret-free sentence (pure; no server)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from dflow_tui.core.errors import DflowError
from dflow_tui.core.redact import MASK, redact
from dflow_tui.storage.errors import StorageError, describe, storage_error

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENDPOINT = "https://s3.example.com"


def client_error(
    code: str, message: str = "", status: int = 400, operation: str = "PutObject"
) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@pytest.mark.parametrize(
    ("code", "action", "expected"),
    [
        ("SignatureDoesNotMatch", "PutObject", "rejected the secret access key"),
        ("InvalidAccessKeyId", "PutObject", "does not know this access key ID"),
        ("NoSuchBucket", "PutObject", "Bucket 'b' does not exist"),
        (
            "AccessDenied",
            "PutObject",
            "Access denied for PutObject on s3://b/k: the key lacks the s3:PutObject",
        ),
        ("AccessDenied", "ListObjectsV2", "s3:ListBucket permission"),
        ("AccessDenied", "DeleteObject", "Access denied for DeleteObject"),
        ("403", "HeadObject", "Access denied for HeadObject"),
        ("AuthorizationHeaderMalformed", "PutObject", "check the region"),
        ("RequestTimeTooSkewed", "PutObject", "fix the system time"),
        ("SlowDown", "UploadPart", "throttling"),
    ],
)
def test_codes_become_sentences(code, action, expected):
    text = describe(
        client_error(code), action=action, endpoint_url=ENDPOINT, bucket="b", key="k", secret=SECRET
    )
    assert expected in text


def test_connection_error_names_the_endpoint():
    exc = EndpointConnectionError(endpoint_url=ENDPOINT)
    assert describe(exc, action="PutObject", endpoint_url=ENDPOINT).startswith(
        f"Cannot reach endpoint URL: {ENDPOINT}"
    )


def test_secret_echoed_by_a_library_is_redacted():
    exc = client_error("WeirdError", f"bad credentials {SECRET} given")
    error = storage_error(exc, action="PutObject", endpoint_url=ENDPOINT, bucket="b", secret=SECRET)
    assert isinstance(error, StorageError) and isinstance(error, DflowError)
    assert SECRET not in str(error) and MASK in str(error)
    assert error.code == "WeirdError"


def test_redact():
    assert redact(f"a {SECRET} b {SECRET}", [SECRET]) == f"a {MASK} b {MASK}"
    assert redact("aws_secret_access_key = abc123") == f"aws_secret_access_key = {MASK}"
    assert redact("nothing here", ["", None]) == "nothing here"
