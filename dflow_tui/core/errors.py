"""Errors a user is meant to read: each carries one clear sentence."""


class DflowError(Exception):
    """Base of every error whose message is shown to the user as it is."""


class InvalidName(DflowError):
    pass


class NotFound(DflowError):
    pass


class AlreadyExists(DflowError):
    pass


class NoServer(DflowError):
    pass


class NotAllowed(DflowError):
    pass


class Conflict(DflowError):
    """The action clashes with work already running."""


class BackupInProgress(Conflict):
    """The service has a backup in progress already (the database allows one)."""


class RemoteError(DflowError):
    """A command on a server, or the connection to it, failed."""


class HostKeyUnknown(RemoteError):
    def __init__(self, host: str, port: int, fingerprint: str):
        self.host = host
        self.port = port
        self.fingerprint = fingerprint
        super().__init__(
            f"Host key of {host}:{port} is not known ({fingerprint}); "
            "check it and trust it with `dflow-tui server trust NAME`"
        )


class HostKeyChanged(RemoteError):
    def __init__(self, host: str, port: int, fingerprint: str):
        self.host = host
        self.port = port
        self.fingerprint = fingerprint
        super().__init__(
            f"Host key of {host}:{port} has CHANGED (now {fingerprint}); "
            "refusing to connect — it may be an attack or a reinstalled server"
        )


class Cancelled(DflowError):
    """A job stopped because somebody asked it to."""

    def __init__(self, by: str):
        super().__init__(f"Cancelled by {by}")
        self.by = by


STOPPED_BY = "Stopped by "


def stopped_by(cause: str) -> str:
    """Why a face cancelled a job for a signal (`Stopped by SIGTERM`): the row's error then."""
    return f"{STOPPED_BY}{cause}"
