"""A real-HTTP S3 for tests: moto's server in a thread, on 127.0.0.1, IAM auth ON.

moto accepts any credentials unless its IAM simulation is switched on, and that
switch is global to the process (moto.settings.INITIAL_NO_AUTH_ACTION_COUNT,
default: infinity = never check). So the fixture:

1. starts the server with auth off, creates an IAM user `dflow-admin` with an
   allow-everything inline policy and an access key for it;
2. switches auth on through moto's own endpoint (POST /moto-api/reset-auth "0");
   from then on every request must be SigV4-signed with a key moto knows, and
   moto recomputes the signature with the stored secret: a wrong secret gets
   SignatureDoesNotMatch, an unknown key InvalidAccessKeyId, a missing
   permission AccessDenied;
3. on teardown restores the previous auth setting and resets moto's state
   (POST /moto-api/reset), since moto's backends are process-wide.

`kill()` really stops the server: ThreadedMotoServer.stop() alone leaves the
listening socket open (new connections hang in the backlog) and keeps serving
keep-alive connections; here those are closed too. `restart()` comes back on the
same port with the same state.

Register in tests/conftest.py:

    from infra_s3 import moto_s3  # noqa: F401  (or: from tests.infra_s3 import ...)
"""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.request
from typing import Any

import boto3
import pytest
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

REGION = "us-east-1"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class _TrackingHandler(MotoRequestHandler):
    """Remembers its connection so that kill() can cut it."""

    def setup(self) -> None:
        super().setup()
        self.server.dflow_connections.add(self.connection)  # type: ignore[attr-defined]

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per request is noise in test output; errors are still logged

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.dflow_connections.discard(self.connection)  # type: ignore[attr-defined]


class _KillableMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_TrackingHandler)
        self._server.dflow_connections = set()  # type: ignore[attr-defined]
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)  # quick shutdown()

    def kill(self) -> None:
        server = self._server
        self.stop()  # shutdown() the accept loop, join its thread
        if server is not None:
            server.server_close()  # close the listening socket: new connects are refused
            for connection in list(server.dflow_connections):  # type: ignore[attr-defined]
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


class MotoS3:
    """One moto server with IAM auth, and helpers to arrange a test."""

    region = REGION

    def __init__(self) -> None:
        self.port = 0
        self._server: _KillableMotoServer | None = None
        self._previous_auth: str | None = None
        self.access_key_id = ""
        self.secret_access_key = ""

    # -- lifecycle

    def start(self) -> MotoS3:
        self._server = _KillableMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        return self

    def kill(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server = None

    def restart(self) -> None:
        self.kill()
        self.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _moto_api(self, path: str, data: bytes) -> dict:
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/{path}",
            data=data,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},  # not a form: moto reads the raw body
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def enable_auth(self) -> None:
        """Create the admin IAM user (auth still off), then require valid signatures."""
        iam = self.client("iam", access_key_id="AKIAIOSFODNN7SETUP00", secret_access_key="setup")
        self.access_key_id, self.secret_access_key = self._create_user(iam, "dflow-admin", ALLOW_ALL)
        answer = self._moto_api("reset-auth", b"0")
        self._previous_auth = answer.get("PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT", "inf")

    def close(self) -> None:
        if self._server is None:
            self.start()
        try:
            self._moto_api("reset-auth", (self._previous_auth or "inf").encode())
            self._moto_api("reset", b"")
        finally:
            self.kill()

    # -- clients and fixtures

    def client(
        self, service: str = "s3", *, access_key_id: str | None = None, secret_access_key: str | None = None
    ) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            config=boto3.session.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    @staticmethod
    def _create_user(iam: Any, name: str, policy: dict) -> tuple[str, str]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def create_user(self, name: str, policy: dict) -> tuple[str, str]:
        """An IAM user with `policy` inline; returns (access key id, secret)."""
        return self._create_user(self.client("iam"), name, policy)

    def make_bucket(self, name: str, *, versioned: bool = False) -> str:
        s3 = self.client()
        s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def storage_config(self, bucket: str, prefix: str = "dflow/backups", **overrides: Any):
        from dflow_tui.storage.provider import StorageConfig

        values = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "bucket": bucket,
            "prefix": prefix,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }
        values.update(overrides)
        return StorageConfig(**values)

    def versions_of(self, bucket: str, key: str) -> list[dict]:
        """Every version and delete marker of exactly `key`."""
        page = self.client().list_object_versions(Bucket=bucket, Prefix=key)
        return [e for e in [*page.get("Versions", []), *page.get("DeleteMarkers", [])] if e["Key"] == key]

    def multipart_uploads(self, bucket: str) -> list[dict]:
        return self.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def start_moto_s3() -> MotoS3:
    """A started server with auth on (call .close() when done)."""
    server = MotoS3().start()
    try:
        server.enable_auth()
    except BaseException:
        server.close()
        raise
    return server


@pytest.fixture
def moto_s3():
    """A moto S3 server over real HTTP with IAM auth enforced; state wiped after."""
    server = start_moto_s3()
    try:
        yield server
    finally:
        server.close()
