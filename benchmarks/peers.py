"""The peer: the one-line backup and restore a sysadmin would put in cron, and each leg alone.

    ssh host dokku postgres:export db | aws s3 cp - s3://bucket/key
    aws s3 cp s3://bucket/key - | ssh host dokku postgres:import db

OpenSSH's client with the same key, known_hosts and options as the test suite's
SshServer.ssh_args(); awscli v1 with its default transfer settings (8 MiB parts, 10 in
flight), which is what `pip install awscli` gives.
"""

from __future__ import annotations

import shlex

from benchmarks.rig import Rig


def ssh_export(rig: Rig, service: str) -> list[str]:
    """The SSH leg alone (its stdout goes to /dev/null)."""
    return [*rig.host.ssh_argv, f"dokku postgres:export {shlex.quote(service)}"]


def _aws_cp(rig: Rig, link: str, source: str, target: str) -> list[str]:
    return [rig.aws, "s3", "cp", "--only-show-errors", "--endpoint-url", rig.url(link), source, target]


def upload_file(rig: Rig, link: str, path: str, key: str) -> list[str]:
    """The upload leg alone: a local file into the bucket."""
    return _aws_cp(rig, link, path, rig.object_url(key))


def backup(rig: Rig, link: str, service: str, key: str) -> list[str]:
    export = rig.host.ssh_command(f"dokku postgres:export {shlex.quote(service)}")
    upload = shlex.join(_aws_cp(rig, link, "-", rig.object_url(key)))
    return ["bash", "-o", "pipefail", "-c", f"{export} | {upload}"]


def restore(rig: Rig, link: str, key: str, service: str) -> list[str]:
    download = shlex.join(_aws_cp(rig, link, rig.object_url(key), "-"))
    load = rig.host.ssh_command(f"dokku postgres:import {shlex.quote(service)}")
    return ["bash", "-o", "pipefail", "-c", f"{download} | {load}"]
