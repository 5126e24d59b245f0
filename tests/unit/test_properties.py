"""Property tests: whatever text arrives, no command but the intended Dokku call on the
intended file is built, and nothing escapes the backup directory or the bucket prefix."""

from __future__ import annotations

import posixpath
import shlex
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from dflow_tui.core.errors import DflowError, InvalidName
from dflow_tui.core.naming import (
    ENGINES,
    dump_file_name,
    dump_in_backup_dir,
    object_key,
    validate_backup_dir,
)
from dflow_tui.remote import dokku, files
from dflow_tui.storage import StorageConfig

# Plenty of shell metacharacters, separators, dots and unicode, not just letters.
hostile = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list(";&|`$()<>\\\"' \n\t*?~/.-_")), max_size=40
)
WHEN = datetime(2026, 4, 8, 14, 30, 0, 123000, tzinfo=UTC)
SHELL_OPERATORS = {";", "&", "&&", "|", "||", "`", "$(", ">", ">>", "<", "\n"}


@settings(max_examples=400)
@given(engine=st.sampled_from(ENGINES), name=hostile)
def test_export_command_is_one_dokku_call_or_refused(engine, name):
    try:
        command = dokku.export_command(engine, name)
    except InvalidName:
        return
    assert shlex.split(command) == ["dokku", f"{engine}:export", name]


@settings(max_examples=400)
@given(engine=st.sampled_from(ENGINES), name=hostile, directory=hostile)
def test_export_to_partial_writes_only_inside_the_backup_dir(engine, name, directory):
    try:
        command = files.export_to_partial(engine, name, directory, dump_file_name(name, WHEN))
    except InvalidName:
        return
    tokens = shlex.split(command)
    # umask 077 && set -C && dokku ENGINE:export NAME > DIR/NAME-….dump.partial
    assert tokens[:6] == ["umask", "077", "&&", "set", "-C", "&&"]
    assert tokens[6:9] == ["dokku", f"{engine}:export", name]
    assert tokens[9] == ">" and len(tokens) == 11
    target = tokens[10]
    assert posixpath.dirname(target) == validate_backup_dir(directory)
    assert ".." not in target.split("/")


@settings(max_examples=400)
@given(directory=hostile, file_path=hostile)
def test_a_recorded_path_is_accepted_only_directly_inside_the_backup_dir(directory, file_path):
    try:
        name = dump_in_backup_dir(directory, file_path)
        command = files.remove_dump(directory, name)
    except InvalidName:
        return
    assert file_path == f"{validate_backup_dir(directory)}/{name}"
    assert "/" not in name and name.endswith(".dump")
    assert shlex.quote(file_path) in command


@settings(max_examples=300)
@given(engine=st.sampled_from(ENGINES), name=hostile, directory=hostile)
def test_import_reads_only_the_intended_dump(engine, name, directory):
    try:
        path = f"{validate_backup_dir(directory)}/{dump_file_name(name, WHEN)}"
        command = files.checked_import(engine, name, path)
    except InvalidName:
        return
    # The file is opened once, by its quoted path; the import reads that open file.
    assert f"exec 3< {shlex.quote(path)} " in command
    assert command.endswith(f"exec dokku {engine}:import {shlex.quote(name)} < /proc/self/fd/3")


@settings(max_examples=400)
@given(bucket=hostile, prefix=hostile, project=hostile, environment=hostile, name=hostile)
def test_object_keys_stay_under_the_prefix(bucket, prefix, project, environment, name):
    try:
        config = StorageConfig(
            endpoint_url="https://s3.example.com", region="r", bucket=bucket, prefix=prefix
        )
        key = object_key(config.prefix, project, environment, name, WHEN)
    except DflowError:
        return
    assert key.startswith(config.prefix + "/") if config.prefix else True
    assert ".." not in key.split("/") and "//" not in key and not key.startswith("/")
    assert key.split("/")[-3:] == [project, environment, dump_file_name(name, WHEN)]
    assert config.bucket == bucket and "/" not in bucket


@settings(max_examples=300)
@given(name=hostile, directory=hostile)
def test_the_size_probe_reads_only_the_intended_partial_file(name, directory):
    try:
        path = f"{validate_backup_dir(directory)}/{dump_file_name(name, WHEN)}.partial"
        command = files.file_size(path)
    except InvalidName:
        return
    assert shlex.split(command) == [
        "if",
        "test",
        "-f",
        f"{path};",
        "then",
        "wc",
        "-c",
        "<",
        f"{path};",
        "else",
        "echo",
        "0;",
        "fi",
    ]
