"""A server command's stderr lines reach the caller as they are written, over real
sshd and on this machine alike, while stdout still streams and stderr is still kept."""

from __future__ import annotations

import time

# A chatty command: two lines a second apart, a blank one (skipped), an unterminated last one.
CHATTY = (
    "echo 'dumping table a' >&2; sleep 1; echo 'dumping table b' >&2; echo >&2; printf 'done' >&2; echo data"
)


def _recorder():
    seen: list[tuple[float, str]] = []
    return seen, lambda line: seen.append((time.monotonic(), line))


async def test_run_hands_over_each_line_as_it_comes(transport):
    seen, on_output = _recorder()
    result = await transport.run(CHATTY, timeout=30, on_output=on_output)
    ended = time.monotonic()

    assert [line for _, line in seen] == ["dumping table a", "dumping table b", "done"]
    assert ended - seen[0][0] >= 0.8  # the first line came while the command still ran
    assert result.ok and result.stdout == b"data\n"
    assert "dumping table a\ndumping table b\n" in result.stderr  # still kept for error messages


async def test_a_streamed_command_hands_over_its_lines_too(transport):
    seen, on_output = _recorder()
    process = await transport.start(CHATTY, on_output=on_output)
    stdout = b""
    while chunk := await process.read():
        stdout += chunk
    finished = await process.wait()

    assert stdout == b"data\n" and finished.ok
    assert [line for _, line in seen] == ["dumping table a", "dumping table b", "done"]


async def test_a_failing_callback_does_not_break_the_command(transport):
    def broken(_line):
        raise RuntimeError("the screen went away")

    result = await transport.run("echo one >&2; echo out", timeout=30, on_output=broken)
    assert result.ok and result.stdout == b"out\n"


async def test_escape_sequences_from_the_server_never_reach_the_caller(transport):
    hostile = r"printf '\033]0;pwned\007dumping \033[2Jtable\r\n' >&2; printf 'v\033[31m1\n'; exit 3"
    seen, on_output = _recorder()
    result = await transport.run(hostile, timeout=30, on_output=on_output)
    assert [line for _, line in seen] == ["dumping table"]
    assert result.stderr == "dumping table\n"  # what error messages and the database get
    assert result.text == "v1\n" and result.stdout == b"v\x1b[31m1\n"  # data stays as it was
