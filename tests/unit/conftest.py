"""Fixtures for the unit tests of the remote layer."""

from __future__ import annotations

import pytest

from dflow_tui.remote.connect import open_transport
from dflow_tui.remote.local import LocalTransport
from dflow_tui.remote.transport import ServerSpec


@pytest.fixture(params=["sshd", "local"])
async def transport(request, tmp_path):
    """The same test over real sshd and on this machine."""
    if request.param == "local":
        yield LocalTransport(cwd=tmp_path)
        return
    sshd = request.getfixturevalue("sshd")
    spec = ServerSpec(
        name="real", host=sshd.host, port=sshd.port, user=sshd.user, key_path=str(sshd.client_key_path)
    )
    async with open_transport(spec, known_hosts=sshd.known_hosts_path, ssh_config=[]) as opened:
        yield opened
