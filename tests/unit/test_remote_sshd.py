"""SSHTransport against a real OpenSSH server (the `sshd` fixture in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from dflow_tui.core.errors import HostKeyUnknown, RemoteError
from dflow_tui.remote import files
from dflow_tui.remote.connect import fetch_host_key, open_transport
from dflow_tui.remote.transport import ServerSpec

DUMP = "db-2026-04-08-14-30-00-123.dump"


def _spec(sshd, **overrides) -> ServerSpec:
    values = {
        "name": "real",
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key_path": str(sshd.client_key_path),
    }
    values.update(overrides)
    return ServerSpec(**values)


async def test_real_sshd_run_stream_and_files(sshd, tmp_path: Path):
    async with open_transport(_spec(sshd), known_hosts=sshd.known_hosts_path, ssh_config=[]) as transport:
        result = await transport.run("echo out; echo err >&2; exit 3")
        assert (result.exit_status, result.stdout, result.stderr) == (3, b"out\n", "err\n")

        home = await transport.run("pwd")
        assert Path(home.text.strip()).resolve() == sshd.home.resolve()

        payload = os.urandom(2 * 1024 * 1024)
        backup_dir = str(tmp_path / "backups")
        await transport.run(files.ensure_dir(backup_dir))
        process = await transport.start(files.receive_to_file(files.partial_path(backup_dir, DUMP)))
        for offset in range(0, len(payload), 256 * 1024):
            await process.write(payload[offset : offset + 256 * 1024])
        assert (await process.wait()).ok

        summed = await transport.run(files.checksum(files.partial_path(backup_dir, DUMP)))
        assert files.parse_checksum(summed.stdout) == (
            hashlib.sha256(payload).hexdigest(),
            len(payload),
        )
        stream = await transport.start(f"cat -- {files.partial_path(backup_dir, DUMP)}")
        digest = hashlib.sha256()
        while chunk := await stream.read():
            digest.update(chunk)
        assert (await stream.wait()).ok
        assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()

        with pytest.raises(RemoteError, match=r"timed out after 0\.5s"):
            await transport.run("sleep 20", timeout=0.5)


async def test_real_sshd_host_key_checks(sshd, tmp_path: Path):
    fingerprint, line = await fetch_host_key(_spec(sshd), ssh_config=[])
    assert fingerprint == sshd.host_key_fingerprint
    assert line == sshd.host_public_key
    with pytest.raises(HostKeyUnknown) as caught:
        async with open_transport(_spec(sshd), known_hosts=tmp_path / "kh", ssh_config=[]):
            pass
    assert caught.value.fingerprint == sshd.host_key_fingerprint


async def test_real_sshd_refuses_wrong_user(sshd):
    with pytest.raises(RemoteError, match="SSH login as nobody@"):
        async with open_transport(
            _spec(sshd, user="nobody"), known_hosts=sshd.known_hosts_path, ssh_config=[]
        ):
            pass


async def test_real_sshd_kill_reaches_the_whole_pipeline(sshd, tmp_path: Path):
    marker = tmp_path / "survived"
    async with open_transport(_spec(sshd), known_hosts=sshd.known_hosts_path, ssh_config=[]) as transport:
        with pytest.raises(RemoteError, match="timed out"):
            await transport.run(f"sleep 2 && touch {marker} | cat", timeout=0.5)
        process = await transport.start(f"sleep 2 && touch {marker}.2 | cat")
        await asyncio.sleep(0.3)
        process.kill()
        result = await asyncio.wait_for(process.wait(), 10)
        assert result.exit_status == 128 + 9
    await asyncio.sleep(2.5)
    assert not marker.exists()
    assert not Path(f"{marker}.2").exists()


async def test_over_ssh_endless_output_is_capped_and_a_silent_stream_stopped(sshd):
    async with open_transport(
        _spec(sshd), known_hosts=sshd.known_hosts_path, ssh_config=[], idle_timeout=3
    ) as transport:
        with pytest.raises(RemoteError, match=r"`yes dflow` on .* wrote more than 8 MiB of output"):
            await transport.run("yes dflow", timeout=60)
        process = await transport.start("printf start; sleep 30")
        assert await process.read() == b"start"
        with pytest.raises(RemoteError, match=r"sent nothing for 3s on 127.0.0.1"):
            await process.read()
        assert (await process.wait()).exit_status != 0
        still = await transport.run("echo alive", timeout=10)  # the connection itself is fine
        assert still.stdout == b"alive\n"


async def test_aes_gcm_is_asked_for_first_unless_the_ssh_config_names_ciphers(sshd, tmp_path: Path):
    """AES-GCM costs asyncssh half the CPU of ChaCha20; a `Ciphers` line of the user's still wins."""
    async with open_transport(_spec(sshd), known_hosts=sshd.known_hosts_path, ssh_config=[]) as transport:
        assert transport._conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n    Ciphers aes256-ctr\n")
    async with open_transport(
        _spec(sshd), known_hosts=sshd.known_hosts_path, ssh_config=[config]
    ) as transport:
        assert transport._conn.get_extra_info("send_cipher") == "aes256-ctr"
        assert (await transport.run("echo ok")).stdout == b"ok\n"
