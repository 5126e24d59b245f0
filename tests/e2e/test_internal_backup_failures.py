"""Failures say why, leave no complete-looking file, and refused requests leave no row."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from infra.ports import free_port


def _backups(cli, path=None):
    return cli.json("backup", "list", *([path] if path else []), "--all")


def test_no_server_fails_at_once_and_leaves_no_row(cli, real_server):
    cli("project", "add", "bare")
    cli("env", "add", "bare", "production")
    cli("service", "add", "bare/production/db", "--engine", "postgres")

    result = cli("backup", "create", "bare/production/db", ok=False)

    assert "No server for bare/production/db" in result.stderr
    assert _backups(cli) == []


def test_environment_server_is_enough(cli, real_server, postgres_db, backup_dir):
    cli("project", "add", "split")
    cli("env", "add", "split", "production", "--server", real_server)
    cli("service", "add", f"split/production/{postgres_db}", "--engine", "postgres")

    cli("backup", "create", f"split/production/{postgres_db}")

    assert len(list(backup_dir.glob("*.dump"))) == 1


def test_legacy_project_is_not_allowed(cli, real_server):
    cli("project", "add", "old", "--server", real_server, "--legacy")
    cli("env", "add", "old", "production")
    cli("service", "add", "old/production/db", "--engine", "postgres")

    result = cli.process("backup", "create", "old/production/db", ok=False)

    assert result.exit_code == 1

    assert result.stderr.splitlines() == [
        "Error: Not allowed to create backup: project 'old' is of the legacy managed type, whose "
        "databases are not backed up from here; add the service to a project on a self-managed "
        "server (dflow-tui project add NAME --server SERVER) and back it up there"
    ]
    assert _backups(cli) == []


def test_export_of_a_missing_database_fails_and_leaves_no_file(cli, real_server, backup_dir):
    cli("project", "add", "shop", "--server", real_server)
    cli("env", "add", "shop", "production")
    cli("service", "add", "shop/production/no-such-db", "--engine", "postgres")

    result = cli("backup", "create", "shop/production/no-such-db", ok=False)

    assert "failed" in result.stderr
    [row] = _backups(cli)
    assert row["status"] == "failed"
    assert "no-such-db does not exist" in row["error"]
    assert list(backup_dir.iterdir()) == []  # no .dump and no .partial


def _add_service(cli, server: str, name: str = "db") -> str:
    cli("project", "add", "p", "--server", server)
    cli("env", "add", "p", "e")
    cli("service", "add", f"p/e/{name}", "--engine", "postgres")
    return f"p/e/{name}"


def test_dead_host_fails_with_the_reason(cli, backup_dir):
    port = free_port()  # nothing listens there
    cli("server", "add", "dead", "--host", "127.0.0.1", "--port", str(port), "--backup-dir", str(backup_dir))
    path = _add_service(cli, "dead")

    result = cli("backup", "create", path, ok=False)

    [row] = _backups(cli)
    assert row["status"] == "failed"
    assert f"127.0.0.1:{port}" in row["error"] and "refused" in row["error"].lower()
    assert row["error"] in result.stderr


def test_wrong_key_fails_with_the_reason(cli, sshd, tmp_path, backup_dir):
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    cli(
        "server",
        "add",
        "wrongkey",
        "--host",
        sshd.host,
        "--port",
        str(sshd.port),
        "--user",
        sshd.user,
        "--key",
        str(other_key),
        "--backup-dir",
        str(backup_dir),
    )
    path = _add_service(cli, "wrongkey")

    cli("backup", "create", path, ok=False)

    [row] = _backups(cli)
    assert row["status"] == "failed"
    assert "refused" in row["error"].lower() and sshd.user in row["error"]
    assert not backup_dir.exists() or list(backup_dir.iterdir()) == []


def test_unknown_host_key_is_refused_with_its_fingerprint_until_trusted(
    cli, sshd, tmp_path, backup_dir, postgres_db
):
    empty_known_hosts = tmp_path / "known_hosts"
    cli.env["DFLOW_TUI_KNOWN_HOSTS"] = str(empty_known_hosts)
    cli(
        "server",
        "add",
        "new",
        "--host",
        sshd.host,
        "--port",
        str(sshd.port),
        "--user",
        sshd.user,
        "--key",
        str(sshd.client_key_path),
        "--backup-dir",
        str(backup_dir),
    )
    path = _add_service(cli, "new", postgres_db)

    cli("backup", "create", path, ok=False)
    [row] = _backups(cli)
    assert row["status"] == "failed"
    assert sshd.host_key_fingerprint in row["error"]
    assert "not known" in row["error"]

    wrong = cli("server", "trust", "new", "--fingerprint", "SHA256:not-the-right-one", ok=False)
    assert sshd.host_key_fingerprint in wrong.stderr
    unconfirmed = cli("server", "trust", "new", ok=False)
    assert f"--fingerprint {sshd.host_key_fingerprint}" in unconfirmed.stderr
    cli("server", "trust", "new", "--fingerprint", sshd.host_key_fingerprint)

    cli("backup", "create", path)
    assert len(list(backup_dir.glob("*.dump"))) == 1


def test_changed_host_key_is_refused(cli, sshd, tmp_path, backup_dir):
    forged = tmp_path / "known_hosts"
    forged_key = tmp_path / "forged"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(forged_key)], check=True)
    public = (forged_key.with_suffix(".pub")).read_text().split()[:2]
    forged.write_text(f"[{sshd.host}]:{sshd.port} {' '.join(public)}\n")
    cli.env["DFLOW_TUI_KNOWN_HOSTS"] = str(forged)
    cli(
        "server",
        "add",
        "moved",
        "--host",
        sshd.host,
        "--port",
        str(sshd.port),
        "--user",
        sshd.user,
        "--key",
        str(sshd.client_key_path),
        "--backup-dir",
        str(backup_dir),
    )

    result = cli("server", "check", "moved", ok=False)

    assert "CHANGED" in result.stderr and sshd.host_key_fingerprint in result.stderr


@pytest.mark.parametrize("name", ["x; touch /tmp/owned", "$(touch /tmp/owned)", "a`id`", "../../etc"])
def test_shell_metacharacters_are_rejected_before_anything_runs(cli, real_server, name):
    cli("project", "add", "p", "--server", real_server)
    cli("env", "add", "p", "e")
    marker = Path("/tmp/owned")
    marker.unlink(missing_ok=True)

    result = cli("service", "add", f"p/e/{name}", "--engine", "postgres", ok=False)

    assert "Invalid service name" in result.stderr or "PROJECT/ENV/NAME" in result.stderr
    assert cli.json("service", "list") == []
    assert not marker.exists()


def test_bad_backup_dir_is_rejected(cli, sshd):
    result = cli("server", "add", "s", "--host", sshd.host, "--backup-dir", "x; rm -rf ~", ok=False)
    assert "Invalid backup directory" in result.stderr
    assert cli.json("server", "list") == []
