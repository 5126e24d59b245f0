"""`dflow-tui doctor`: does every record match what is on the servers and in the buckets?"""

from __future__ import annotations

from dflow_tui.core.enums import AuditResult
from dflow_tui.core.permissions import Permission
from dflow_tui.jobs.consistency import Finding, check_consistency
from dflow_tui.jobs.context import JobContext
from dflow_tui.service.access import Access


class Doctor:
    def __init__(self, ctx: JobContext, access: Access):
        self.ctx = ctx
        self.access = access

    async def check(self, *, fix: bool = False) -> list[Finding]:
        await self.access.require(
            Permission.DELETE if fix else Permission.READ, "doctor.fix" if fix else "doctor.check"
        )
        findings = await check_consistency(self.ctx, fix=fix)
        if fix:
            fixed = [f for f in findings if f.fixed]
            await self.access.audit(
                "doctor.fix",
                AuditResult.SUCCEEDED,
                detail=f"{len(fixed)} fixed, {len([f for f in findings if f.needs_attention])} left",
            )
        return findings
