"""Where dialectid keeps its state: DIALECTID_HOME, default ~/.local/share/dialectid."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    configured = os.environ.get("DIALECTID_HOME")
    return Path(configured) if configured else Path.home() / ".local" / "share" / "dialectid"
