"""The ways dflow-tui can store a dump. Today only `plain` runs; the others are one line each and
run as soon as the installed CLI has the options they need (see dflow_cli.Features).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.dflow_cli import Features


@dataclass(frozen=True)
class Variant:
    name: str
    compression: str  # `destination set --compression` value; "none" is what dflow-tui does today
    encrypted: bool  # through a provider on which `storage encrypt --recipient` was run
    restorable: bool  # restore is measured (an encrypted dump needs its identity: not wired yet)
    parallel: int | None = None  # parts in flight (`storage edit --parallel`); None: the default

    def available(self, features: Features) -> bool:
        return (self.compression == "none" or features.compression) and (
            not self.encrypted or features.encryption
        )

    def provider(self, link: str) -> str:
        """The storage provider for this variant on a link (`direct`, `capped-age`...)."""
        return f"{link}-age" if self.encrypted else link

    def destination_args(self, service_path: str, link: str, features: Features) -> list[str]:
        args = ["destination", "set", service_path, "external", "--provider", self.provider(link)]
        if features.compression:
            args += ["--compression", self.compression]
        return args


VARIANTS = (
    Variant("plain", compression="none", encrypted=False, restorable=True),
    Variant("zstd", compression="zstd", encrypted=False, restorable=True),
    Variant("age", compression="none", encrypted=True, restorable=False),
    Variant("zstd+age", compression="zstd", encrypted=True, restorable=False),
    # As many connections as `aws s3 cp` opens (its max_concurrent_requests, 10): under a
    # per-connection cap, the default 4 parts in flight cannot match 10 streams.
    Variant("plain, 10 in flight", compression="none", encrypted=False, restorable=False, parallel=10),
)
PLAIN = VARIANTS[0]
# The compressible SQL-text dump is worth measuring without encryption, at the default K only.
SQL_VARIANTS = tuple(v for v in VARIANTS if not v.encrypted and v.parallel is None)
