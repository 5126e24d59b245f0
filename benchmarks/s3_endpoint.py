"""S3 on 127.0.0.1 for the data path: moto in its own process, a versioned bucket, and the
per-connection bandwidth-capped proxy in front of it (a second endpoint URL, same bucket).

moto and the proxy each run in a process of their own, so that neither their CPU nor the
bucket's memory counts as the measured command's. moto keeps object bytes in spooled temp
files; its TMPDIR is inside the run's workspace, so nothing outlives the run, and each block
of the data path starts on a new moto process (see Moto.restart).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from benchmarks import processes
from benchmarks.shared_infra import tests_infra

REGION = "us-east-1"
BUCKET = "dflow-bench"
# moto runs without IAM checks: any key pair is accepted. These are the benchmark's own.
ACCESS_KEY_ID = "AKIABENCHMARK0000000"
SECRET_ACCESS_KEY = "benchmark-secret-access-key"
CAP_MIB_PER_SECOND = 16.0
PROXY_SCRIPT = Path(__file__).with_name("throttle_proxy.py")  # stdlib only: runs as a plain script


@dataclass(frozen=True)
class S3Endpoint:
    direct_url: str
    capped_url: str
    cap_mib_per_second: float
    bucket: str = BUCKET
    region: str = REGION
    access_key_id: str = ACCESS_KEY_ID
    secret_access_key: str = SECRET_ACCESS_KEY
    moto: Moto | None = None

    def aws_env(self, base: dict[str, str], config_dir: Path) -> dict[str, str]:
        """The environment of an `aws` command: these credentials and no user config files."""
        return {
            **base,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": str(config_dir / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(config_dir / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A boto3 client for untimed housekeeping (creating the bucket, emptying a prefix)."""
        return boto3.client(
            "s3",
            endpoint_url=self.direct_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}),
        )

    def create_bucket(self) -> None:
        client = self.client()
        client.create_bucket(Bucket=self.bucket)
        client.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})

    def fresh(self) -> None:
        """An empty bucket on a new moto process (untimed, between blocks)."""
        if self.moto is not None:
            self.moto.restart()
            self.create_bucket()


class Moto:
    """moto_server on a port of its own, which `restart` keeps (the proxy points at it)."""

    def __init__(self, stack: ExitStack, work_dir: Path) -> None:
        self.port = tests_infra().ports.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._work_dir = work_dir
        self._process = self._start()
        stack.callback(lambda: processes.stop_server(self._process))

    def _start(self) -> Any:
        spool = self._work_dir / "moto-tmp"
        spool.mkdir(parents=True, exist_ok=True)
        log = self._work_dir / "moto.log"
        moto = processes.start_server(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            log,
            env={**os.environ, "TMPDIR": str(spool)},
        )
        tests_infra().ports.wait_for_port("127.0.0.1", self.port, moto, log, timeout=60)
        return moto

    def restart(self) -> None:
        """A new, empty moto: the old one's spooled object files are freed with its process.
        moto frees none while it runs, deleted versions included (tens of GB in one data path
        run, until the disk is full and it answers 500s)."""
        processes.stop_server(self._process)
        self._process = self._start()


def start_capped_proxy(stack: ExitStack, work_dir: Path, target_url: str, mib_per_second: float) -> str:
    """The throttle proxy in front of `target_url` (stopped when `stack` closes); returns its URL."""
    ports = tests_infra().ports
    port = ports.free_port()
    log = work_dir / "proxy.log"
    proxy = processes.start_server(
        [
            sys.executable,
            str(PROXY_SCRIPT),
            "--listen",
            f"127.0.0.1:{port}",
            "--target",
            target_url.removeprefix("http://"),
            "--rate",
            str(mib_per_second),
        ],
        log,
    )
    stack.callback(processes.stop_server, proxy)
    ports.wait_for_port("127.0.0.1", port, proxy, log, timeout=30)
    return f"http://127.0.0.1:{port}"


def start_s3(stack: ExitStack, work_dir: Path, cap_mib_per_second: float = CAP_MIB_PER_SECOND) -> S3Endpoint:
    """moto and the capped proxy, stopped when `stack` closes; the bucket created and versioned."""
    moto = Moto(stack, work_dir)
    endpoint = S3Endpoint(
        direct_url=moto.url,
        capped_url=start_capped_proxy(stack, work_dir, moto.url, cap_mib_per_second),
        cap_mib_per_second=cap_mib_per_second,
        moto=moto,
    )
    endpoint.create_bucket()
    return endpoint
