"""Dead-man pings (healthchecks.io style): a URL told when a backup starts, succeeds or
fails, and a worker's URL after every scheduler pass — so that a monitor elsewhere
notices when nothing arrives at all (the backup host itself is down).

`URL/start` when a backup starts, `URL` when it succeeded, `URL/fail` with the error as
the body when it failed. A ping that cannot be delivered is logged and never fails or
slows a job beyond PING_TIMEOUT.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from dflow_tui.core.redact import redact

log = logging.getLogger("dflow_tui.pings")
PING_TIMEOUT = 10.0


async def ping(url: str | None, event: str = "", body: str = "", *, secrets: Iterable[str] = ()) -> bool:
    """Sends one ping (`event`: "" for success, "start" or "fail"); True when the
    endpoint answered 2xx. Never raises."""
    if not url:
        return False
    target = url.rstrip("/") + (f"/{event}" if event else "")
    import aiohttp  # loaded with the S3 client anyway; not by commands that ping nothing

    try:
        timeout = aiohttp.ClientTimeout(total=PING_TIMEOUT)
        data = redact(body, secrets).encode()
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(target, data=data) as response,
        ):
            if 200 <= response.status < 300:
                return True
            log.warning("ping %s answered HTTP %s", _shown(target), response.status)
    except Exception as error:  # a monitor being down must not fail a backup
        log.warning("ping %s failed: %s", _shown(target), error or type(error).__name__)
    return False


def _shown(url: str) -> str:
    """The URL without its path (a ping URL's path is often its secret token)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…"
