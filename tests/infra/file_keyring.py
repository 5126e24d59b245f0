"""A keyring backend in a JSON file, for tests whose `dflow-tui` processes must share
secrets (a worker reading the URL that `notify add` stored). Chosen on purpose through
PYTHON_KEYRING_BACKEND, as a user would choose one; never the machine's own keyring."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.errors
from keyring.backend import KeyringBackend

FILE_ENV = "DFLOW_TEST_KEYRING_FILE"
BACKEND = "infra.file_keyring.FileKeyring"


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def path(self) -> Path:
        return Path(os.environ[FILE_ENV])

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def _save(self, store: dict[str, str]) -> None:
        self.path.write_text(json.dumps(store))

    def get_password(self, service, username):
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service, username, password):
        self._save({**self._load(), f"{service}\0{username}": password})

    def delete_password(self, service, username):
        store = self._load()
        if store.pop(f"{service}\0{username}", None) is None:
            raise keyring.errors.PasswordDeleteError("not found")
        self._save(store)
