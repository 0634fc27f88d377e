"""JSON lines that any path survives: one object per line, valid UTF-8, written byte-exact.

A file name that is not valid UTF-8 reaches Python as a string with lone surrogates
(surrogateescape); `json_line` writes each as its JSON escape (\\udcNN), so the line stays valid
UTF-8 and `os.fsencode(json.loads(line)[...])` gives the original bytes back.

>>> json_line({"path": "caf\\udce9.wav"})
'{"path": "caf\\\\udce9.wav"}\\n'
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def json_line(value: Any) -> str:
    """`value` as one line of JSON (non-ASCII kept readable), ending with a newline."""
    text = json.dumps(value, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text) + "\n"


def print_json(value: Any) -> None:
    """Write `value` to standard output as one JSON line, with no markup or emoji rendering."""
    sys.stdout.write(json_line(value))
    sys.stdout.flush()
