"""Delete only ever removes a dump file inside the server's backup directory."""

from __future__ import annotations

from dflow_tui.store.tables import Backup


async def _tamper(cli, backup_id: int, file_path: str) -> None:
    app = await cli.open_app()
    async with app.db.session() as session:
        row = await session.get(Backup, backup_id)
        row.file_path = file_path
        session.add(row)
        await session.commit()
    await app.close()


def test_delete_cannot_remove_anything_outside_the_backup_dir(
    cli, service_path, postgres, postgres_db, backup_dir, tmp_path
):
    import asyncio

    postgres.psql("CREATE TABLE t (v int)", db=postgres_db)
    backup_id = int(cli("backup", "create", service_path).stdout)
    dump_name = next(backup_dir.glob("*.dump")).name
    outside = tmp_path / "precious"
    outside.mkdir()
    victim = outside / dump_name  # a name that matches the dump pattern, in the wrong place
    victim.write_text("do not delete")
    plain = tmp_path / "passwd"
    plain.write_text("root:x:0:0")

    for forged in (
        str(victim),  # absolute path elsewhere
        f"{backup_dir}/../precious/{dump_name}",  # escapes with ..
        f"{backup_dir}/passwd",  # not a dump name
        f"{backup_dir}/{dump_name}; rm -rf {outside}",  # shell metacharacters
    ):
        asyncio.run(_tamper(cli, backup_id, forged))
        result = cli("backup", "delete", str(backup_id), "--yes", ok=False)
        assert "Delete of backup" in result.stderr

    assert victim.read_text() == "do not delete"
    assert plain.exists()
    assert (backup_dir / dump_name).exists()
    [row] = cli.json("backup", "list", service_path)
    assert row["id"] == backup_id  # not soft-deleted
