"""S3 on 127.0.0.1 for the data path: moto in its own process, a versioned bucket, and the
per-connection bandwidth-capped proxy in front of it (a second endpoint URL, same bucket).

moto and the proxy each run in a process of their own, so that neither their CPU nor the
bucket's memory counts as the measured command's. moto keeps object bytes in spooled temp
files; its TMPDIR is inside the run's workspace, so nothing outlives the run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

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

    def keys(self, prefix: str) -> set[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def purge(self, prefix: str, keep: Collection[str] = ()) -> None:
        """Remove every version and delete marker under `prefix` but those of `keep` (keeps moto's disk small)."""
        client = self.client()
        pages = client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                doomed = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for kind in ("Versions", "DeleteMarkers")
                    for item in page.get(kind, [])
                    if item["Key"] not in keep
                ]
                if doomed:
                    client.delete_objects(Bucket=self.bucket, Delete={"Objects": doomed, "Quiet": True})
        except ClientError as error:
            # Housekeeping between timed runs, not a figure: moto has answered ListObjectVersions
            # with a 500 after many large versions. The objects stay; the figures go on.
            print(f"  (could not empty {prefix!r} between runs: {error}; left in place)", flush=True)


def start_moto(stack: ExitStack, work_dir: Path) -> str:
    """moto_server on a free port (stopped when `stack` closes); returns its endpoint URL."""
    ports = tests_infra().ports
    port = ports.free_port()
    spool = work_dir / "moto-tmp"
    spool.mkdir(parents=True, exist_ok=True)
    log = work_dir / "moto.log"
    moto = processes.start_server(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log,
        env={**os.environ, "TMPDIR": str(spool)},
    )
    stack.callback(processes.stop_server, moto)
    ports.wait_for_port("127.0.0.1", port, moto, log, timeout=60)
    return f"http://127.0.0.1:{port}"


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
    direct = start_moto(stack, work_dir)
    endpoint = S3Endpoint(
        direct_url=direct,
        capped_url=start_capped_proxy(stack, work_dir, direct, cap_mib_per_second),
        cap_mib_per_second=cap_mib_per_second,
    )
    client = endpoint.client()
    client.create_bucket(Bucket=endpoint.bucket)
    client.put_bucket_versioning(Bucket=endpoint.bucket, VersioningConfiguration={"Status": "Enabled"})
    return endpoint
