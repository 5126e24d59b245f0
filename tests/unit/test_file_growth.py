"""Measuring a file a server command writes, while the command runs (over real sshd
and on this machine)."""

from __future__ import annotations

from dflow_tui.jobs.file_growth import while_measuring


async def test_the_size_grows_while_the_command_writes(transport, tmp_path):
    target = tmp_path / "db-2026-04-08-14-30-00-123.dump.partial"
    writer = f"for i in 1 2 3 4 5 6; do head -c 1000 /dev/zero >> '{target}'; sleep 0.3; done; echo written"
    sizes: list[int] = []

    result = await while_measuring(
        transport, str(target), transport.run(writer, timeout=30), sizes.append, interval=0.25
    )

    assert result.ok and result.stdout == b"written\n"
    assert sizes == sorted(sizes) and len(set(sizes)) >= 3  # seen growing, never shrinking
    assert 0 < sizes[-1] <= 6000


async def test_a_missing_file_reads_as_nothing_written_yet(transport, tmp_path):
    sizes: list[int] = []
    result = await while_measuring(
        transport,
        str(tmp_path / "db-2026-04-08-14-30-00-124.dump.partial"),
        transport.run("sleep 0.7", timeout=30),
        sizes.append,
        interval=0.2,
    )
    assert result.ok and sizes and set(sizes) == {0}
