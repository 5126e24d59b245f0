"""S3-compatible external storage: provider config, verify, streamed upload/download, delete.

Only `dflow_tui.core`, `dflow_tui.settings` and libraries are imported here (no
textual, no store). Importing the package loads neither aiobotocore nor botocore:
they load when an `S3Client` is opened.
"""

from dflow_tui.storage.errors import StorageError, UploadAborted, UploadNotAborted
from dflow_tui.storage.multipart import UploadResult
from dflow_tui.storage.provider import (
    DEFAULT_PREFIX,
    InvalidStorageConfig,
    StorageConfig,
    VerifyResult,
)
from dflow_tui.storage.s3 import (
    DownloadStream,
    IncompleteUpload,
    ObjectInfo,
    S3Client,
    abort_upload,
    abort_uploads_of,
    delete_all_versions,
    download_stream,
    head,
    list_incomplete_uploads,
    list_keys,
)
from dflow_tui.storage.verify import verify

__all__ = [
    "DEFAULT_PREFIX",
    "DownloadStream",
    "IncompleteUpload",
    "InvalidStorageConfig",
    "ObjectInfo",
    "S3Client",
    "StorageConfig",
    "StorageError",
    "UploadAborted",
    "UploadNotAborted",
    "UploadResult",
    "VerifyResult",
    "abort_upload",
    "abort_uploads_of",
    "delete_all_versions",
    "download_stream",
    "head",
    "list_incomplete_uploads",
    "list_keys",
    "verify",
]
