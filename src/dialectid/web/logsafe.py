"""Logs nobody can write lines into: every control character a request brings (a `%0A` or `%00`
in a path, an escape sequence, a Unicode line separator) is logged as `\\xNN` or `\\uNNNN`.

`escape` is applied where the web view logs request data (`middleware`); `SafeFormatter` does it
again for every record the server logs, its own and uvicorn's, and indents the lines of a
traceback so that none of them can pass for a log line of its own.
"""

from __future__ import annotations

import logging
import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators and bidirectional controls
# (which reorder what a terminal shows). A backslash stays as it is, so that escaping twice (at
# the source and in the formatter) changes nothing; a path typed with `\x0a` in it cannot break
# a line either.
_UNSAFE = re.compile("[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]")
CONTINUATION = " | "  # starts every line of a traceback


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """`text` with every control character written out; escaping twice changes nothing.

    >>> escape("/cases\\n2026-01-01 INFO forged\\x00")
    '/cases\\\\x0a2026-01-01 INFO forged\\\\x00'
    """
    return _UNSAFE.sub(_escaped, text)


class SafeFormatter(logging.Formatter):
    """A `logging.Formatter` whose message has no control characters and whose traceback lines all
    start with `CONTINUATION`."""

    def format(self, record: logging.LogRecord) -> str:
        # As `logging.Formatter.format`, without its cache of the traceback's text (another
        # handler's formatter may have filled it, unindented).
        record.message = escape(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        lines = [self.formatMessage(record)]
        if record.exc_info:
            lines.append(self._indented(self.formatException(record.exc_info)))
        elif record.exc_text:
            lines.append(self._indented(record.exc_text))
        if record.stack_info:
            lines.append(self._indented(self.formatStack(record.stack_info)))
        return "\n".join(lines)

    @staticmethod
    def _indented(text: str) -> str:
        return "\n".join(CONTINUATION + escape(line) for line in text.splitlines())


FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(level: str = "INFO") -> dict:
    """A `logging.config.dictConfig` for `dialectid serve`: the server's records and uvicorn's, all
    through `SafeFormatter` on standard error."""
    handler = {"class": "logging.StreamHandler", "formatter": "safe", "stream": "ext://sys.stderr"}
    uvicorn = {"handlers": [], "level": level, "propagate": True}  # through the root's handler
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"safe": {"()": f"{__name__}.SafeFormatter", "fmt": FORMAT}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {name: uvicorn for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
