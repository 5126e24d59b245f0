"""Secrets (storage providers' secret access keys) in the OS keyring.

Service name `dflow-tui`; one entry per secret, e.g. username
`storage:<provider name>` (see `storage_secret_name()`).

There is no fallback: when no usable keyring backend exists, every call raises
`KeyringUnavailable`, whose message says how to get one on a headless host. A
file-based backend from `keyrings.alt` is only used when it was chosen on purpose
(PYTHON_KEYRING_BACKEND or keyringrc.cfg), never because it happened to be
installed. Secret values never appear in a message.

The keyring calls block (D-Bus, a password prompt...): from async code, use the
`*_async` wrappers, which run them in a thread.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail

from dflow_tui.core.errors import DflowError
from dflow_tui.core.naming import validate_label
from dflow_tui.settings import APP_NAME

SERVICE = APP_NAME  # the keyring's service name: renaming it would orphan every stored secret
_PROBE_USERNAME = f"{APP_NAME}:keyring-probe"

HOW_TO_FIX = (
    "To keep secrets on a headless host, either run a Secret Service: install "
    "gnome-keyring (and the Python package 'secretstorage'), then start dflow-tui "
    "inside a D-Bus session with the keyring unlocked, for example "
    "`dbus-run-session -- sh -c 'printf %s \"$PASSWORD\" | gnome-keyring-daemon --unlock; dflow-tui'`; "
    "or choose a backend on purpose with PYTHON_KEYRING_BACKEND "
    "(for example `pip install keyrings.alt` and "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.EncryptedKeyring, which asks for its "
    "own password), knowing that "
    "file backends are weaker than a real keyring and that PlaintextKeyring "
    "stores secrets unencrypted on disk. `python -m keyring diagnose` shows "
    "what keyring sees."
)


class KeyringUnavailable(DflowError):
    """No usable keyring backend: secrets cannot be stored or read."""


class SecretStoreError(DflowError):
    """The keyring backend exists but the operation failed."""


def storage_secret_name(provider: str) -> str:
    """The keyring username of a storage provider's secret access key."""
    return f"storage:{validate_label(provider, 'storage provider')}"


def notifier_secret_name(notifier: str) -> str:
    """The keyring username of a notifier's apprise URL (it holds tokens and passwords)."""
    return f"notify:{validate_label(notifier, 'notifier')}"


def _backend_label(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _chosen_explicitly() -> bool:
    """True when the user named a backend (env var or keyringrc.cfg)."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        return True
    try:
        from keyring.util import platform_

        path = platform_.config_root() / "keyringrc.cfg"
        if not path.exists():
            return False
        config = configparser.RawConfigParser()
        config.read(path, encoding="utf-8")
        return bool(config.has_option("backend", "default-keyring"))
    except Exception:
        return False


def _backend_problem(backend: KeyringBackend) -> str | None:
    """Why `backend` cannot be used, or None."""
    if isinstance(backend, fail.Keyring):
        return "No usable keyring backend was found"
    if isinstance(backend, chainer.ChainerBackend):
        usable = [b for b in backend.backends if _backend_problem(b) is None]
        if not usable:
            return "No usable keyring backend was found (the keyring chain is empty)"
        return None
    module = type(backend).__module__
    if module == "keyring.backends.null":
        return "The 'null' keyring backend is selected: it stores nothing"
    if module.startswith("keyrings.alt") and not _chosen_explicitly():
        return (
            f"Only the file-based keyring backend {_backend_label(backend)} is available, "
            "and it was not chosen on purpose; dflow-tui will not silently keep "
            "secrets in a file"
        )
    return None


def _unavailable(problem: str) -> KeyringUnavailable:
    return KeyringUnavailable(f"{problem}. {HOW_TO_FIX}")


def _usable_backend() -> KeyringBackend:
    backend = keyring.get_keyring()
    problem = _backend_problem(backend)
    if problem is not None:
        raise _unavailable(problem)
    return backend


def _failure(exc: BaseException, action: str, name: str, value: str | None = None) -> DflowError:
    detail = f"{type(exc).__name__}: {exc}"
    if value:
        detail = detail.replace(value, "[REDACTED]")
    if isinstance(exc, (keyring.errors.NoKeyringError, keyring.errors.InitError)):
        return _unavailable(f"The keyring backend could not be used ({detail})")
    if isinstance(exc, keyring.errors.KeyringLocked):
        return KeyringUnavailable(
            f"The keyring is locked, so the secret {name!r} cannot be {action}: unlock it "
            f"(for example `gnome-keyring-daemon --unlock`) and try again. {HOW_TO_FIX}"
        )
    return SecretStoreError(f"The keyring failed while the secret {name!r} was being {action} ({detail})")


def keyring_status() -> tuple[bool, str]:
    """(usable, message): whether secrets can be kept, and in what, or how to fix it."""
    backend = keyring.get_keyring()
    problem = _backend_problem(backend)
    if problem is not None:
        return False, f"{problem}. {HOW_TO_FIX}"
    try:
        backend.get_password(SERVICE, _PROBE_USERNAME)
    except Exception as exc:  # the backend exists but cannot work here
        return False, str(_failure(exc, "read", _PROBE_USERNAME))
    label = _backend_label(backend)
    if "Plaintext" in type(backend).__name__:
        return True, f"Secrets are kept by {label}, UNENCRYPTED on disk (chosen on purpose)"
    return True, f"Secrets are kept by the keyring backend {label}"


def set_secret(name: str, value: str) -> None:
    if not name:
        raise SecretStoreError("A secret needs a name")
    if not value:
        raise SecretStoreError(f"Refusing to store an empty secret for {name!r}")
    backend = _usable_backend()
    try:
        backend.set_password(SERVICE, name, value)
    except Exception as exc:
        raise _failure(exc, "stored", name, value) from None


def get_secret(name: str) -> str | None:
    """The secret, or None if there is none under `name`."""
    backend = _usable_backend()
    try:
        return backend.get_password(SERVICE, name)
    except Exception as exc:
        raise _failure(exc, "read", name) from None


def delete_secret(name: str) -> bool:
    """Remove the secret; False if there was none (deleting twice is fine)."""
    backend = _usable_backend()
    try:
        backend.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError as exc:
        try:
            still_there = backend.get_password(SERVICE, name) is not None
        except Exception:
            still_there = True
        if still_there:
            raise _failure(exc, "deleted", name) from None
        return False
    except Exception as exc:
        raise _failure(exc, "deleted", name) from None
    return True


async def set_secret_async(name: str, value: str) -> None:
    await asyncio.to_thread(set_secret, name, value)


async def get_secret_async(name: str) -> str | None:
    return await asyncio.to_thread(get_secret, name)


async def delete_secret_async(name: str) -> bool:
    return await asyncio.to_thread(delete_secret, name)


async def keyring_status_async() -> tuple[bool, str]:
    return await asyncio.to_thread(keyring_status)


# --- restore identities ----------------------------------------------------------
# A keyring cannot list what it holds, so the names of the saved identities (with the
# fingerprints of the keys they open, which are not secret) are kept in one entry of
# their own. Everything stays in this host's keyring: the shared state database never
# learns of an identity.

IDENTITY_INDEX = "identities"


def identity_secret_name(name: str) -> str:
    return f"identity:{name}"


def saved_identities() -> dict[str, list[str]]:
    """Name → fingerprints of the recipients each saved identity can open."""
    raw = get_secret(IDENTITY_INDEX)
    if not raw:
        return {}
    index = json.loads(raw)
    return {str(name): [str(f) for f in fingerprints] for name, fingerprints in index.items()}


def save_identity(name: str, text: str, fingerprints: list[str]) -> None:
    index = saved_identities()
    set_secret(identity_secret_name(name), text)
    index[name] = fingerprints
    set_secret(IDENTITY_INDEX, json.dumps(index, sort_keys=True))


def forget_identity(name: str) -> bool:
    index = saved_identities()
    known = index.pop(name, None) is not None
    removed = delete_secret(identity_secret_name(name))
    if index:
        set_secret(IDENTITY_INDEX, json.dumps(index, sort_keys=True))
    else:
        delete_secret(IDENTITY_INDEX)
    return known or removed


async def saved_identities_async() -> dict[str, list[str]]:
    return await asyncio.to_thread(saved_identities)


async def save_identity_async(name: str, text: str, fingerprints: list[str]) -> None:
    await asyncio.to_thread(save_identity, name, text, fingerprints)


async def forget_identity_async(name: str) -> bool:
    return await asyncio.to_thread(forget_identity, name)
