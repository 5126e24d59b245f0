"""`python -m benchmarks [SECTION...]`: prints figures and ratios for the speed and memory targets.

It asserts nothing. With no argument every section runs, in the order below; name some to
run only those (`make benchmark ONLY="data_path startup"`). BENCH_RUNS sets how many times
each timed command runs (default 3). Everything a section starts is stopped and the run's
temp dir removed at the end, on Ctrl-C and SIGTERM too.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

from benchmarks import codec_speed, copies, data_path, fleet_scale, list_and_table, startup, upload_memory
from benchmarks.workspace import Workspace

log = logging.getLogger("benchmarks")

SECTIONS: dict[str, Callable[[Workspace], None]] = {
    "list_and_table": list_and_table.run,
    "fleet_scale": fleet_scale.run,
    "upload_memory": upload_memory.run,
    "startup": startup.run,
    "codec_speed": codec_speed.run,
    "data_path": data_path.run,
    "copies": copies.run,
}


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: every `with` below cleans up


def main(argv: list[str]) -> int:
    asked_help = "-h" in argv or "--help" in argv
    unknown = [name for name in argv if name not in SECTIONS and name not in ("-h", "--help")]
    if unknown or asked_help:
        print(f"usage: python -m benchmarks [{' '.join(SECTIONS)}]...", file=sys.stderr)
        return 2 if unknown else 0
    signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(stream=sys.stdout, format="  %(message)s")
    chosen = argv or list(SECTIONS)
    failed: list[str] = []
    began = time.perf_counter()
    try:
        with Workspace() as workspace:
            for name in chosen:
                section_began = time.perf_counter()
                try:
                    SECTIONS[name](workspace)
                except Exception:
                    failed.append(name)  # reported with its traceback; the other sections still run
                    log.exception("section %s FAILED", name)
                print(f"  (section {name} took {time.perf_counter() - section_began:.0f} s)\n", flush=True)
    except KeyboardInterrupt:
        print("\nInterrupted: servers stopped, temp dir removed.", flush=True)
        return 130
    print(
        f"All done in {time.perf_counter() - began:.0f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
