"""mailbeacon: email open and click tracking that never breaks the email."""

__version__ = "0.1.0"
