"""SSHTransport and host keys against an in-process asyncssh server on 127.0.0.1.

The server runs each command with `/bin/sh -c` in a temporary home directory,
pumping stdin/stdout/stderr both ways, and kills the command when the client
closes the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import os
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from dflow_tui.core.errors import HostKeyChanged, HostKeyUnknown, RemoteError
from dflow_tui.remote.connect import fetch_host_key, open_transport, trust_host_key
from dflow_tui.remote.hostkeys import host_pattern, public_key_line
from dflow_tui.remote.ssh import SSHTransport
from dflow_tui.remote.transport import ServerSpec

NO_CONFIG: list[str] = []


@dataclass
class FakeServer:
    port: int
    home: Path
    host_key: asyncssh.SSHKey
    client_key_path: Path
    known_hosts: Path
    children: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return self.host_key.get_fingerprint("sha256")

    def spec(self, **overrides) -> ServerSpec:
        values = {
            "name": "fake",
            "host": "127.0.0.1",
            "port": self.port,
            "user": getpass.getuser(),
            "key_path": str(self.client_key_path),
        }
        values.update(overrides)
        return ServerSpec(**values)


async def _pump(reader, writer) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)


def _handler(home: Path, children: list):
    async def handle(process: asyncssh.SSHServerProcess) -> None:
        child = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            process.command or "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=home,
            start_new_session=True,
        )
        children.append(child)

        async def feed_stdin() -> None:
            try:
                await _pump(process.stdin, child.stdin)
            except (BrokenPipeError, ConnectionResetError):
                return
            except Exception:  # signals, channel errors: the client gave up
                _kill_group(child)
                return
            with contextlib.suppress(Exception):
                child.stdin.close()

        async def kill_on_close() -> None:
            await process.channel.wait_closed()
            _kill_group(child)

        watcher = asyncio.ensure_future(kill_on_close())
        feeder = asyncio.ensure_future(feed_stdin())
        try:
            await asyncio.gather(_pump(child.stdout, process.stdout), _pump(child.stderr, process.stderr))
            status = await child.wait()
            process.exit(status if status >= 0 else 128 - status)
        except Exception:
            _kill_group(child)
        finally:
            feeder.cancel()
            watcher.cancel()

    return handle


@pytest.fixture
async def fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # only the test key may log in
    home = tmp_path / "home"
    home.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = tmp_path / "client_ed25519"
    client_key.write_private_key(str(client_key_path))
    client_key_path.chmod(0o600)
    children: list = []
    server = await asyncssh.create_server(
        asyncssh.SSHServer,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(client_key.export_public_key().decode()),
        process_factory=_handler(home, children),
        encoding=None,
    )
    port = server.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "server_known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {public_key_line(host_key)}\n")
    yield FakeServer(port, home, host_key, client_key_path, known_hosts, children)
    server.close()
    await server.wait_closed()
    for child in children:
        _kill_group(child)


@pytest.fixture
async def ssh(fake_server: FakeServer):
    async with open_transport(
        fake_server.spec(), known_hosts=fake_server.known_hosts, ssh_config=NO_CONFIG
    ) as transport:
        yield transport


# --- running commands -------------------------------------------------------------


async def test_run_returns_stdout_bytes_stderr_text_and_exit_status(ssh):
    result = await ssh.run("printf 'out\\n'; printf 'bad \\377 thing\\n' >&2; exit 3")
    assert result.exit_status == 3
    assert not result.ok
    assert result.stdout == b"out\n"
    assert "bad" in result.stderr and "\ufffd" in result.stderr
    assert result.error_line().startswith("bad")


async def test_run_success_and_label(ssh, fake_server):
    result = await ssh.run("echo hello")
    assert result.ok and result.stdout == b"hello\n"
    assert ssh.label == f"127.0.0.1:{fake_server.port}"


async def test_run_starts_in_home_directory(ssh, fake_server):
    result = await ssh.run("pwd")
    assert Path(result.text.strip()).resolve() == fake_server.home.resolve()


async def test_run_feeds_stdin(ssh):
    result = await ssh.run("tr a-z A-Z", stdin=b"hello\n")
    assert result.stdout == b"HELLO\n"


async def test_run_without_stdin_sends_eof(ssh):
    result = await asyncio.wait_for(ssh.run("cat; echo end"), 10)
    assert result.stdout == b"end\n"


async def test_run_timeout_kills_command_and_raises(ssh, fake_server):
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"timed out after 0\.5s"):
        await ssh.run("sleep 30", timeout=0.5)
    assert time.monotonic() - started < 10
    sleeper = fake_server.children[0]
    for _ in range(100):
        if sleeper.returncode is not None:
            break
        await asyncio.sleep(0.05)
    assert sleeper.returncode is not None, "the remote command was not killed"


async def test_run_timeout_kills_the_whole_remote_pipeline(ssh, fake_server):
    marker = fake_server.home / "survived"
    with pytest.raises(RemoteError, match="timed out"):
        await ssh.run("sleep 2 && touch survived | cat", timeout=0.5)
    await asyncio.sleep(2.5)
    assert not marker.exists(), "a child of the timed-out command kept running"
    assert (await ssh.run("echo still-usable")).stdout == b"still-usable\n"


async def test_stderr_does_not_show_the_process_group_marker(ssh):
    result = await ssh.run("echo only-this >&2")
    assert result.stderr == "only-this\n"
    process = await ssh.start("true")
    assert (await process.wait()).stderr == ""


async def test_close_kills_commands_still_running(fake_server):
    async with open_transport(
        fake_server.spec(), known_hosts=fake_server.known_hosts, ssh_config=NO_CONFIG
    ) as transport:
        await transport.start("sleep 2 && touch survived")
        await asyncio.sleep(0.3)
    await asyncio.sleep(2.5)
    assert not (fake_server.home / "survived").exists()


async def test_many_commands_on_one_connection(ssh):
    results = await asyncio.gather(*(ssh.run(f"echo {i}") for i in range(10)))
    assert [r.stdout for r in results] == [f"{i}\n".encode() for i in range(10)]


# --- streaming --------------------------------------------------------------------


async def test_stream_a_few_megabytes_both_ways(ssh):
    payload = os.urandom(3 * 1024 * 1024 + 123)
    process = await ssh.start("cat")

    async def writer():
        view = memoryview(payload)
        for offset in range(0, len(payload), 100_000):
            await process.write(bytes(view[offset : offset + 100_000]))
        await process.write_eof()

    received = hashlib.sha256()
    size = 0
    write_task = asyncio.ensure_future(writer())
    while chunk := await process.read(65536):
        assert len(chunk) <= 65536
        received.update(chunk)
        size += len(chunk)
    await write_task
    result = await process.wait()
    assert result.exit_status == 0 and result.stdout == b""
    assert size == len(payload)
    assert received.hexdigest() == hashlib.sha256(payload).hexdigest()


async def test_stream_reads_large_output_and_exit_status(ssh):
    process = await ssh.start("head -c 5000000 /dev/zero; echo warn >&2; exit 7")
    total = 0
    while chunk := await process.read():
        total += len(chunk)
    result = await process.wait()
    assert total == 5_000_000
    assert result.exit_status == 7
    assert result.stderr == "warn\n"


async def test_stream_keeps_only_the_tail_of_stderr(ssh):
    process = await ssh.start(
        'i=0; while [ $i -lt 3000 ]; do echo "line $i of noisy stderr output...." >&2; '
        "i=$((i+1)); done; echo last >&2"
    )
    result = await process.wait()
    assert result.ok
    assert len(result.stderr) <= 64 * 1024 + 100
    assert result.stderr.endswith("last\n")
    assert result.stderr.startswith("[earlier stderr output dropped]")


async def test_stream_kill_stops_the_command(ssh, fake_server):
    process = await ssh.start("sleep 30")
    await asyncio.sleep(0.2)
    started = time.monotonic()
    process.kill()
    result = await asyncio.wait_for(process.wait(), 10)
    assert result.exit_status != 0
    assert time.monotonic() - started < 10


async def test_stream_write_to_finished_command_raises(ssh):
    process = await ssh.start("exit 0")
    with pytest.raises(RemoteError):
        for _ in range(200):
            await process.write(b"x" * 65536)
            await asyncio.sleep(0.01)
    await process.wait()


# --- host keys --------------------------------------------------------------------


async def test_unknown_host_key_raises_with_server_fingerprint(fake_server, tmp_path):
    empty = tmp_path / "nothing" / "known_hosts"
    with pytest.raises(HostKeyUnknown) as caught:
        async with open_transport(fake_server.spec(), known_hosts=empty, ssh_config=NO_CONFIG):
            pass
    assert caught.value.fingerprint == fake_server.fingerprint
    assert caught.value.fingerprint.startswith("SHA256:")
    assert (caught.value.host, caught.value.port) == ("127.0.0.1", fake_server.port)
    assert not empty.exists()


async def test_fetch_host_key(fake_server):
    fingerprint, line = await fetch_host_key(fake_server.spec(), ssh_config=NO_CONFIG)
    assert fingerprint == fake_server.fingerprint
    assert line == public_key_line(fake_server.host_key)
    assert line.startswith("ssh-ed25519 ")


async def test_trust_host_key_then_connect(fake_server, tmp_path):
    known_hosts = tmp_path / "fresh" / ".ssh" / "known_hosts"
    fingerprint = await trust_host_key(fake_server.spec(), known_hosts, ssh_config=NO_CONFIG)
    assert fingerprint == fake_server.fingerprint
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600
    assert stat.S_IMODE(known_hosts.parent.stat().st_mode) == 0o700
    line = f"[127.0.0.1]:{fake_server.port} {public_key_line(fake_server.host_key)}\n"
    assert known_hosts.read_text() == line

    async with open_transport(fake_server.spec(), known_hosts=known_hosts, ssh_config=NO_CONFIG) as transport:
        assert (await transport.run("echo ok")).stdout == b"ok\n"

    # Trusting again is a no-op.
    await trust_host_key(fake_server.spec(), known_hosts, ssh_config=NO_CONFIG)
    assert known_hosts.read_text() == line


async def test_trust_host_key_refuses_a_fingerprint_other_than_the_one_checked(fake_server, tmp_path):
    known_hosts = tmp_path / "test_known_hosts"
    with pytest.raises(RemoteError, match="not the SHA256:bogus you checked"):
        await trust_host_key(
            fake_server.spec(),
            known_hosts,
            expected_fingerprint="SHA256:bogus",
            ssh_config=NO_CONFIG,
        )
    assert not known_hosts.exists()
    assert (
        await trust_host_key(
            fake_server.spec(),
            known_hosts,
            expected_fingerprint=fake_server.fingerprint,
            ssh_config=NO_CONFIG,
        )
        == fake_server.fingerprint
    )


async def test_trust_appends_to_existing_file_without_newline(fake_server, tmp_path):
    known_hosts = tmp_path / "test_known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519")
    known_hosts.write_text(f"other.example {public_key_line(other)}")  # no trailing newline
    await trust_host_key(fake_server.spec(), known_hosts, ssh_config=NO_CONFIG)
    lines = known_hosts.read_text().splitlines()
    assert lines[0] == f"other.example {public_key_line(other)}"
    assert lines[1].startswith(f"[127.0.0.1]:{fake_server.port} ssh-ed25519 ")


async def test_changed_host_key_raises(fake_server, tmp_path):
    known_hosts = tmp_path / "test_known_hosts"
    old = asyncssh.generate_private_key("ssh-ed25519")
    known_hosts.write_text(f"[127.0.0.1]:{fake_server.port} {public_key_line(old)}\n")
    with pytest.raises(HostKeyChanged) as caught:
        async with open_transport(fake_server.spec(), known_hosts=known_hosts, ssh_config=NO_CONFIG):
            pass
    assert caught.value.fingerprint == fake_server.fingerprint
    assert "CHANGED" in str(caught.value)


async def test_changed_host_key_with_other_algorithm_raises_changed(fake_server, tmp_path):
    known_hosts = tmp_path / "test_known_hosts"
    old = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    known_hosts.write_text(f"[127.0.0.1]:{fake_server.port} {public_key_line(old)}\n")
    with pytest.raises(HostKeyChanged):
        async with open_transport(fake_server.spec(), known_hosts=known_hosts, ssh_config=NO_CONFIG):
            pass


async def test_hashed_known_hosts_entries_are_matched(fake_server, tmp_path):
    import base64
    import hmac

    salt = os.urandom(20)
    name = f"[127.0.0.1]:{fake_server.port}".encode()
    digest = hmac.new(salt, name, hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    known_hosts = tmp_path / "test_known_hosts"
    known_hosts.write_text(f"{hashed} {public_key_line(fake_server.host_key)}\n")
    async with open_transport(fake_server.spec(), known_hosts=known_hosts, ssh_config=NO_CONFIG) as transport:
        assert (await transport.run("true")).ok


async def test_trust_refuses_changed_key_unless_replace(fake_server, tmp_path):
    known_hosts = tmp_path / "test_known_hosts"
    old = asyncssh.generate_private_key("ssh-ed25519")
    keep_22 = f"127.0.0.1 {public_key_line(old)}\n"  # port 22: another server, keep it
    keep_other = f"other.example {public_key_line(old)}\n"
    stale = f"[127.0.0.1]:{fake_server.port} {public_key_line(old)}\n"
    known_hosts.write_text(keep_22 + stale + keep_other)

    with pytest.raises(HostKeyChanged):
        await trust_host_key(fake_server.spec(), known_hosts, ssh_config=NO_CONFIG)
    assert known_hosts.read_text() == keep_22 + stale + keep_other

    await trust_host_key(fake_server.spec(), known_hosts, replace=True, ssh_config=NO_CONFIG)
    text = known_hosts.read_text()
    assert stale not in text
    assert keep_22 in text and keep_other in text
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600
    async with open_transport(fake_server.spec(), known_hosts=known_hosts, ssh_config=NO_CONFIG) as transport:
        assert (await transport.run("true")).ok


def test_host_pattern():
    assert host_pattern("example.com", 22) == "example.com"
    assert host_pattern("example.com", 2222) == "[example.com]:2222"
    assert host_pattern("::1", 2222) == "[::1]:2222"


async def test_host_key_functions_refuse_local_server(tmp_path):
    local = ServerSpec(name="here", local=True)
    with pytest.raises(RemoteError, match="this machine"):
        await fetch_host_key(local)
    with pytest.raises(RemoteError, match="this machine"):
        await trust_host_key(local, tmp_path / "known_hosts")


# --- login and connection failures -----------------------------------------------


async def test_wrong_client_key_is_refused(fake_server, tmp_path):
    wrong = tmp_path / "wrong_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong))
    spec = fake_server.spec(key_path=str(wrong), user="deploy")
    with pytest.raises(RemoteError, match=r"SSH login as deploy@127\.0\.0\.1 refused: check") as caught:
        await SSHTransport.connect(spec, known_hosts=fake_server.known_hosts, ssh_config=NO_CONFIG)
    assert str(wrong) in str(caught.value)


async def test_missing_key_file(fake_server, tmp_path):
    spec = fake_server.spec(key_path=str(tmp_path / "nope"))
    with pytest.raises(RemoteError, match="does not exist"):
        await SSHTransport.connect(spec, known_hosts=fake_server.known_hosts, ssh_config=NO_CONFIG)


async def test_garbage_key_file(fake_server, tmp_path):
    bad = tmp_path / "bad_key"
    bad.write_text("this is not a key\n")
    spec = fake_server.spec(key_path=str(bad))
    with pytest.raises(RemoteError, match="not a usable private key"):
        await SSHTransport.connect(spec, known_hosts=fake_server.known_hosts, ssh_config=NO_CONFIG)


async def test_passphrase_protected_key_file(fake_server, tmp_path):
    locked = tmp_path / "locked_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(
        str(locked), format_name="pkcs8-pem", passphrase="secret"
    )
    spec = fake_server.spec(key_path=str(locked))
    with pytest.raises(RemoteError, match="passphrase"):
        await SSHTransport.connect(spec, known_hosts=fake_server.known_hosts, ssh_config=NO_CONFIG)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_dead_port_is_a_clear_error(tmp_path):
    port = _closed_port()
    spec = ServerSpec(name="dead", host="127.0.0.1", port=port, user="root")
    with pytest.raises(RemoteError, match=rf"^Cannot reach 127\.0\.0\.1:{port}: connection refused$"):
        async with open_transport(spec, known_hosts=tmp_path / "kh", ssh_config=NO_CONFIG):
            pass


async def test_silent_server_times_out(tmp_path):
    writers = []

    async def never_speak(reader, writer):
        writers.append(writer)
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_speak, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    spec = ServerSpec(name="mute", host="127.0.0.1", port=port, user="root")
    try:
        with pytest.raises(RemoteError, match=rf"Cannot reach 127\.0\.0\.1:{port}: timed out after 0\.5s"):
            async with open_transport(
                spec, known_hosts=tmp_path / "kh", connect_timeout=0.5, ssh_config=NO_CONFIG
            ):
                pass
    finally:
        for writer in writers:
            writer.close()
        server.close()


async def test_unknown_host_name_is_a_clear_error(tmp_path):
    spec = ServerSpec(name="nx", host="no-such-host.invalid", port=22, user="root")
    with pytest.raises(RemoteError, match=r"^Cannot reach no-such-host\.invalid:22: "):
        async with open_transport(spec, known_hosts=tmp_path / "kh", connect_timeout=5, ssh_config=NO_CONFIG):
            pass


async def test_server_without_host(tmp_path):
    with pytest.raises(RemoteError, match="no host"):
        async with open_transport(ServerSpec(name="x"), known_hosts=tmp_path / "kh"):
            pass


async def test_ssh_config_host_alias_is_honoured(fake_server, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host fakealias\n  HostName 127.0.0.1\n  Port {fake_server.port}\n"
        f"  IdentityFile {fake_server.client_key_path}\n"
    )
    spec = ServerSpec(name="alias", host="fakealias", port=fake_server.port)
    async with open_transport(spec, known_hosts=fake_server.known_hosts, ssh_config=[config]) as transport:
        assert (await transport.run("echo via-config")).stdout == b"via-config\n"


async def test_a_missing_known_hosts_file_never_falls_back_to_the_users(fake_server, tmp_path, monkeypatch):
    fake_home = tmp_path / "user-home"
    (fake_home / ".ssh").mkdir(parents=True)
    (fake_home / ".ssh" / "known_hosts").write_text(fake_server.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.delenv("DFLOW_TUI_KNOWN_HOSTS", raising=False)
    with pytest.raises(HostKeyUnknown):
        async with open_transport(fake_server.spec(), known_hosts=tmp_path / "missing", ssh_config=NO_CONFIG):
            pass
    # ...while the default (None) is exactly that user file.
    async with open_transport(fake_server.spec(), ssh_config=NO_CONFIG) as transport:
        assert (await transport.run("true")).ok


async def test_the_default_known_hosts_is_the_apps_setting(fake_server, tmp_path, monkeypatch):
    """known_hosts=None means settings.known_hosts_path(): $DFLOW_TUI_KNOWN_HOSTS wins over ~/.ssh."""
    fake_home = tmp_path / "user-home"
    (fake_home / ".ssh").mkdir(parents=True)
    (fake_home / ".ssh" / "known_hosts").write_text(fake_server.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.setenv("DFLOW_TUI_KNOWN_HOSTS", str(tmp_path / "empty-known-hosts"))
    with pytest.raises(HostKeyUnknown):
        async with open_transport(fake_server.spec(), ssh_config=NO_CONFIG):
            pass
