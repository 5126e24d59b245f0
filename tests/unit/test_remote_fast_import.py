"""Importing the contract modules of remote and storage loads no SSH or S3 library.

asyncssh, aiobotocore and botocore cost a large part of the app's start-up; they
load when a connection or a client is opened (remote.connect imports remote.ssh /
remote.hostkeys then; storage.s3 imports aiobotocore in S3Client.__aenter__ and
botocore's exceptions when one is being caught).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("asyncssh", "aiobotocore", "botocore")

LIGHT_MODULES = [
    "dflow_tui.settings",
    "dflow_tui.secrets",
    "dflow_tui.remote",
    "dflow_tui.remote.transport",
    "dflow_tui.remote.connect",
    "dflow_tui.remote.local",
    "dflow_tui.remote.stderr_tail",
    "dflow_tui.remote.dokku",
    "dflow_tui.remote.files",
    "dflow_tui.storage",
    "dflow_tui.storage.errors",
    "dflow_tui.storage.provider",
    "dflow_tui.storage.s3",
    "dflow_tui.storage.multipart",
    "dflow_tui.storage.verify",
]


def heavy_modules_loaded_by(*modules: str) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout))


def test_contract_modules_load_no_ssh_or_s3_library():
    assert heavy_modules_loaded_by(*LIGHT_MODULES) == []


@pytest.mark.parametrize(
    ("module", "library"),
    [("dflow_tui.remote.ssh", "asyncssh"), ("dflow_tui.remote.hostkeys", "asyncssh")],
)
def test_the_check_would_see_a_heavy_import(module, library):
    assert library in heavy_modules_loaded_by(module)


def test_s3_error_mapping_still_knows_botocore_errors():
    from botocore.exceptions import ClientError, EndpointConnectionError

    from dflow_tui.storage.errors import error_code, is_connection_error
    from dflow_tui.storage.s3 import CALL_ERRORS, call_errors

    assert ClientError in call_errors()
    assert call_errors() == CALL_ERRORS  # the name older modules import
    assert error_code(ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")) == "NoSuchKey"
    assert is_connection_error(EndpointConnectionError(endpoint_url="http://x"))
    assert error_code(ValueError("x")) is None


def test_loading_the_ssh_library_prints_no_warnings():
    """asyncssh's import would otherwise print cryptography's DSA deprecation on every command."""
    code = "import dflow_tui.remote.ssh, dflow_tui.remote.hostkeys, dflow_tui.remote.ssh_errors"
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stderr == ""
