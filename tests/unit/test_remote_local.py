"""LocalTransport: the same contract as SSH, with /bin/sh -c on this machine."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from dflow_tui.core.errors import RemoteError
from dflow_tui.remote.connect import open_transport
from dflow_tui.remote.local import LocalTransport
from dflow_tui.remote.transport import ServerSpec


@pytest.fixture
def local(tmp_path: Path) -> LocalTransport:
    return LocalTransport(cwd=tmp_path)


async def test_open_transport_local_runs_in_home_directory():
    async with open_transport(ServerSpec(name="here", local=True)) as transport:
        assert isinstance(transport, LocalTransport)
        assert transport.label == "local"
        result = await transport.run("pwd")
    assert Path(result.text.strip()).resolve() == Path.home().resolve()


async def test_run_exit_status_stdout_stderr(local):
    result = await local.run("printf 'out\\n'; printf 'bad \\377 thing\\n' >&2; exit 3")
    assert result.exit_status == 3 and not result.ok
    assert result.stdout == b"out\n"
    assert result.stderr.startswith("bad ") and "\ufffd" in result.stderr
    assert result.error_line() == "bad \ufffd thing"


async def test_run_uses_sh_semantics_and_cwd(local, tmp_path):
    result = await local.run("echo $((1 + 2)) && pwd")
    assert result.ok
    lines = result.text.splitlines()
    assert lines[0] == "3"
    assert Path(lines[1]).resolve() == tmp_path.resolve()


async def test_run_stdin_and_no_stdin(local):
    assert (await local.run("tr a-z A-Z", stdin=b"abc")).stdout == b"ABC"
    result = await asyncio.wait_for(local.run("cat; echo end"), 10)
    assert result.stdout == b"end\n"


async def test_run_timeout_kills_the_whole_pipeline(local, tmp_path):
    marker = tmp_path / "survived"
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"timed out after 0\.3s on this machine"):
        await local.run(f"sleep 2 && touch {marker} | cat", timeout=0.3)
    assert time.monotonic() - started < 2
    await asyncio.sleep(2.5)
    assert not marker.exists(), "a child of the timed-out command kept running"


async def test_signal_exit_status_is_128_plus_signal(local):
    result = await local.run("kill -TERM $$")
    assert result.exit_status == 128 + 15


async def test_stream_both_ways(local):
    payload = os.urandom(3 * 1024 * 1024 + 7)
    process = await local.start("cat")

    async def writer():
        for offset in range(0, len(payload), 100_000):
            await process.write(payload[offset : offset + 100_000])
        await process.write_eof()

    task = asyncio.ensure_future(writer())
    digest = hashlib.sha256()
    size = 0
    while chunk := await process.read(65536):
        assert len(chunk) <= 65536
        digest.update(chunk)
        size += len(chunk)
    await task
    result = await process.wait()
    assert result.ok and result.stdout == b""
    assert size == len(payload)
    assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


async def test_stream_exit_status_and_stderr_tail(local):
    process = await local.start(
        "head -c 2000000 /dev/zero; "
        'i=0; while [ $i -lt 3000 ]; do echo "noisy line $i ......................" >&2; '
        "i=$((i+1)); done; echo last >&2; exit 9"
    )
    total = 0
    while chunk := await process.read():
        total += len(chunk)
    result = await process.wait()
    assert total == 2_000_000
    assert result.exit_status == 9
    assert result.stderr.endswith("last\n")
    assert result.stderr.startswith("[earlier stderr output dropped]")
    assert len(result.stderr) <= 64 * 1024 + 100


async def test_wait_discards_unread_output_and_closes_stdin(local):
    process = await local.start("cat >/dev/null; head -c 1000000 /dev/zero")
    result = await asyncio.wait_for(process.wait(), 10)
    assert result.ok


async def test_kill(local):
    process = await local.start("sleep 30 | cat")
    await asyncio.sleep(0.1)
    process.kill()
    result = await asyncio.wait_for(process.wait(), 5)
    assert result.exit_status == 128 + 9


async def test_write_to_finished_command_raises(local):
    process = await local.start("exit 0")
    await asyncio.sleep(0.2)
    with pytest.raises(RemoteError, match="stopped reading its input"):
        for _ in range(100):
            await process.write(b"x" * 65536)
    result = await process.wait()
    assert result.ok


async def test_close_kills_running_commands(local):
    process = await local.start("sleep 30")
    await local.close()
    result = await asyncio.wait_for(process.wait(), 5)
    assert result.exit_status == 128 + 9


async def test_a_short_command_with_endless_output_is_stopped_at_the_cap(tmp_path):
    transport = LocalTransport(cwd=tmp_path)
    with pytest.raises(RemoteError, match=r"wrote more than 8 MiB of output: stopped it"):
        await transport.run("yes dflow", timeout=60)


async def test_a_stream_that_moves_nothing_is_stopped_after_the_idle_timeout(tmp_path):
    transport = LocalTransport(cwd=tmp_path, idle_timeout=0.5)
    process = await transport.start("printf start; sleep 30")
    assert await process.read() == b"start"
    with pytest.raises(RemoteError, match=r"`printf start; sleep 30` sent nothing for 0.5s on this machine"):
        await process.read()
    assert (await process.wait()).exit_status != 0  # killed, not left running
    silent = await transport.start("sleep 30")  # reads nothing: its input fills and stalls
    with pytest.raises(RemoteError, match=r"took no input for 0\.5s"):
        for _ in range(1000):
            await silent.write(b"x" * 65536)
