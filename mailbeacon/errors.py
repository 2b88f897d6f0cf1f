"""The exceptions every layer may raise; each boundary (CLI, HTTP, SMTP) translates them once."""

from __future__ import annotations


class MailbeaconError(Exception):
    """Base of every error mailbeacon raises on purpose."""


class ConfigError(MailbeaconError):
    """A setting or the data directory is unusable."""


class TokenInvalid(MailbeaconError):
    """A tracking token was not signed by this installation (or was tampered with).

    An expected outcome on the hot path, not a bug: scanners and copy-paste
    damage tokens every day. Callers record nothing and redirect nowhere.
    """
