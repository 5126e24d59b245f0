"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every mail it is handed.

with SmtpReceiver() as smtp:
    url = smtp.apprise_url("ops@example.com")   # mailto://…, no TLS
    ...
    [mail] = smtp.mails     # email.message.Message objects
"""

from __future__ import annotations

import email
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from infra.ports import free_port


class SmtpReceiver:
    def __init__(self) -> None:
        self.mails: list[Message] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.mails.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def apprise_url(self, to: str, sender: str = "dflow@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?mode=insecure&from={sender}&to={to}"

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def subjects(self) -> list[str]:
        return [str(mail["Subject"]) for mail in self.mails]
