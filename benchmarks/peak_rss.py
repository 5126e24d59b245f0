"""Runs a command and writes its peak RSS, as the kernel counts it (ru_maxrss from wait4), to a file.

Why a separate, freshly started process: at exec, Linux folds the memory high-water mark
of the address space the process leaves behind into its ru_maxrss. A command forked (or
vforked) straight from the benchmark, which holds 512 MiB dumps in memory, would report
the benchmark's peak, not its own: `/bin/true` forked from a 600 MiB process reports
600 MiB. Spawned from this small interpreter instead (started with -I -S, stdlib only),
the figure is the command's own (never less than this helper's few MiB).

    python -I -S peak_rss.py OUT_FILE COMMAND [ARG...]

Exits with the command's exit status; stdin, stdout and stderr are the command's.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    out_file, command = argv[0], argv[1:]
    pid = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    with open(out_file, "w") as out:
        out.write(f"{usage.ru_maxrss * 1024}\n")  # Linux reports KiB
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
