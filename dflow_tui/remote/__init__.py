"""Reaching servers: transports (SSH, local) and the shell commands they run.

- transport: the contract (ServerSpec, ExecResult, RemoteProcess, Transport,
  OutputCallback, collect); imports nothing else of `remote`
- connect: open_transport / fetch_host_key / trust_host_key, the factory that
  picks a transport (nothing in `remote` imports it)
- ssh, local: the two transports; hostkeys: known_hosts handling;
  ssh_errors: asyncssh failures in words; stderr_tail: a command's bounded stderr
- dokku, files: pure command builders (every name validated, then quoted)

Only ssh, hostkeys and ssh_errors import asyncssh, and connect imports them when
a server is actually reached: importing the rest costs no asyncssh.
"""

import warnings

# asyncssh names cryptography's DSA types at import, which recent cryptography releases answer
# with a deprecation warning: five lines on every command that reaches a server, about a key
# type we never use. Silenced for asyncssh's modules only.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")
