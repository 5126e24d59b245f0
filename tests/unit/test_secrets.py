"""Secrets in the OS keyring: an in-memory backend, and the unavailable-backend error."""

from __future__ import annotations

import keyring
import keyring.errors
import pytest
from infra.memory_keyring import MemoryKeyring
from keyring.backends import chainer, fail

from dflow_tui import secrets
from dflow_tui.core.errors import DflowError, InvalidName
from dflow_tui.secrets import (
    SERVICE,
    KeyringUnavailable,
    SecretStoreError,
    delete_secret,
    delete_secret_async,
    get_secret,
    get_secret_async,
    keyring_status,
    keyring_status_async,
    set_secret,
    set_secret_async,
    storage_secret_name,
)

VALUE = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class BrokenKeyring(MemoryKeyring):
    """A backend that exists but cannot work (no D-Bus session, say)."""

    def get_password(self, service, username):
        raise keyring.errors.InitError("Failed to create the collection: no D-Bus session")

    def set_password(self, service, username, password):
        raise RuntimeError(f"backend exploded while storing {password}")


@pytest.fixture(autouse=True)
def restore_keyring(monkeypatch, tmp_path):
    previous = keyring.get_keyring()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no keyringrc.cfg
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


def test_round_trip(memory_keyring):
    name = storage_secret_name("b2-main")
    assert name == "storage:b2-main"
    assert get_secret(name) is None
    set_secret(name, VALUE)
    assert memory_keyring.store == {(SERVICE, "storage:b2-main"): VALUE}
    assert SERVICE == "dflow-tui"
    assert get_secret(name) == VALUE
    set_secret(name, "rotated")
    assert get_secret(name) == "rotated"
    assert delete_secret(name) is True
    assert get_secret(name) is None
    assert delete_secret(name) is False  # deleting twice is fine


async def test_async_wrappers(memory_keyring):
    await set_secret_async("storage:x", VALUE)
    assert await get_secret_async("storage:x") == VALUE
    assert await delete_secret_async("storage:x") is True
    usable, message = await keyring_status_async()
    assert usable and "MemoryKeyring" in message


def test_status_with_a_working_backend(memory_keyring):
    usable, message = keyring_status()
    assert usable
    assert "MemoryKeyring" in message


def test_names_are_validated():
    with pytest.raises(InvalidName):
        storage_secret_name("bad/name")


def test_empty_secret_is_refused(memory_keyring):
    with pytest.raises(SecretStoreError, match="empty"):
        set_secret("storage:x", "")


def _assert_explains_the_fix(message: str) -> None:
    for hint in ("gnome-keyring", "dbus-run-session", "PYTHON_KEYRING_BACKEND", "keyrings.alt"):
        assert hint in message, hint


def test_fail_backend_is_unavailable_with_a_fix():
    keyring.set_keyring(fail.Keyring())
    usable, message = keyring_status()
    assert not usable
    _assert_explains_the_fix(message)
    for call in (
        lambda: set_secret("storage:x", VALUE),
        lambda: get_secret("storage:x"),
        lambda: delete_secret("storage:x"),
    ):
        with pytest.raises(KeyringUnavailable) as raised:
            call()
        assert isinstance(raised.value, DflowError)
        _assert_explains_the_fix(str(raised.value))
        assert VALUE not in str(raised.value)


def test_empty_chain_is_unavailable(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    keyring.set_keyring(chainer.ChainerBackend())
    usable, message = keyring_status()
    assert not usable and "chain is empty" in message
    with pytest.raises(KeyringUnavailable):
        get_secret("storage:x")


def test_chain_with_a_working_backend_is_usable(monkeypatch):
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [MemoryKeyring()])
    keyring.set_keyring(chainer.ChainerBackend())
    assert keyring_status()[0]


def test_backend_that_errors_is_unavailable():
    keyring.set_keyring(BrokenKeyring())
    usable, message = keyring_status()
    assert not usable
    assert "D-Bus" in message
    _assert_explains_the_fix(message)
    with pytest.raises(KeyringUnavailable):
        get_secret("storage:x")


def test_secret_never_in_an_error_message():
    keyring.set_keyring(BrokenKeyring())
    with pytest.raises(SecretStoreError) as raised:
        set_secret("storage:x", VALUE)
    assert VALUE not in str(raised.value)
    assert "storage:x" in str(raised.value)
    assert raised.value.__cause__ is None  # the library's text (with the value) is not chained


def _file_keyring_class():
    class PlaintextKeyring(MemoryKeyring):
        pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    return PlaintextKeyring


def test_file_backend_not_chosen_on_purpose_is_refused():
    keyring.set_keyring(_file_keyring_class()())
    usable, message = keyring_status()
    assert not usable
    assert "will not silently keep secrets in a file" in message
    with pytest.raises(KeyringUnavailable):
        set_secret("storage:x", VALUE)


def test_file_backend_chosen_on_purpose_is_used_with_a_warning(monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(_file_keyring_class()())
    usable, message = keyring_status()
    assert usable and "UNENCRYPTED" in message
    set_secret("storage:x", VALUE)
    assert get_secret("storage:x") == VALUE


def test_file_backend_chosen_in_keyringrc(tmp_path):
    config_dir = tmp_path / "config" / "python_keyring"
    config_dir.mkdir(parents=True)
    (config_dir / "keyringrc.cfg").write_text(
        "[backend]\ndefault-keyring=keyrings.alt.file.PlaintextKeyring\n"
    )
    keyring.set_keyring(_file_keyring_class()())
    assert keyring_status()[0], secrets._chosen_explicitly()
