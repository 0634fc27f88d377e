"""The root of every error a user can cause.

Library code raises these; only the command line decides how to show them. Each carries a
one-line message that says what is wrong and what to do, so the CLI can print it as it is.
"""

from __future__ import annotations


class DialectidError(Exception):
    """Base class for every failure a user can cause (bad file, bad config, missing model)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # always one line


class ConfigError(DialectidError):
    """A configuration file or override is missing, malformed or has unknown keys."""
