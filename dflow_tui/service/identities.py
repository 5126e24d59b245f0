"""Restore identities (private keys) saved in this host's keyring: a backup host needs only
public keys; the host that restores an encrypted backup needs the matching identity."""

from __future__ import annotations

from dflow_tui.core.enums import AuditResult
from dflow_tui.core.errors import NotFound
from dflow_tui.core.naming import validate_label
from dflow_tui.core.permissions import Permission
from dflow_tui.core.views import IdentityView
from dflow_tui.jobs.context import JobContext
from dflow_tui.pipeline import load_identity
from dflow_tui.secrets import forget_identity_async, save_identity_async, saved_identities_async
from dflow_tui.service.access import Access


class Identities:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.access = access

    async def add(self, name: str, text: str) -> IdentityView:
        """`text`: an age identity file (`AGE-SECRET-KEY-1…`) or an OpenSSH private key."""
        await self.access.require(Permission.RESTORE, "identity.add", target=name)
        validate_label(name, "identity")
        identity = load_identity(text)  # refuses what cannot decrypt, in one sentence
        await save_identity_async(name, text, list(identity.fingerprints))
        await self.access.audit(
            "identity.add", AuditResult.SUCCEEDED, target=name, detail=", ".join(identity.fingerprints)
        )
        return IdentityView(name, identity.fingerprints)

    async def list(self) -> list[IdentityView]:
        await self.access.require(Permission.READ, "identity.list")
        saved = await saved_identities_async()
        return [IdentityView(name, tuple(saved[name])) for name in sorted(saved)]

    async def remove(self, name: str) -> None:
        await self.access.require(Permission.RESTORE, "identity.remove", target=name)
        if not await forget_identity_async(name):
            raise NotFound(f"No identity named {name!r} on this host (see `dflow-tui identity list`)")
        await self.access.audit("identity.remove", AuditResult.SUCCEEDED, target=name)
