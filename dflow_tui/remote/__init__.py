"""Reaching servers: transports (SSH, local) and the shell commands they run.

- transport: the contract (ServerSpec, ExecResult, RemoteProcess, Transport) and
  open_transport / fetch_host_key / trust_host_key
- ssh, local: the two transports; hostkeys: known_hosts handling
- dokku, files: pure command builders (every name validated, then quoted)
"""
