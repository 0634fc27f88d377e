"""What the batch fault tests share: recordings of unseen voices, the CLI as a real process, rows."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from toy import concatenate


def voices(toy_corpus, folder: Path, count: int = 4) -> list[Path]:
    """`count` recordings of a few seconds each, from the toy corpus's test voices."""
    audio = toy_corpus["train"].parent / "audio"
    sources = [sorted((audio / lang / voice).glob("*.wav")) for lang in ("en", "de", "es") for voice in ("v3", "v4")]
    return [concatenate(sources[i % len(sources)][:3], folder / f"voice{i}.wav") for i in range(count)]


def dialectid(*args, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    """Run the command line as a user would, bounded in time (a hang fails the test)."""
    command = [sys.executable, "-m", "dialectid", *(a if isinstance(a, bytes) else str(a) for a in args)]
    kwargs.setdefault("env", os.environ.copy())
    return subprocess.run(command, capture_output=True, timeout=timeout, **kwargs)


def start(*args) -> subprocess.Popen:
    command = [sys.executable, "-m", "dialectid", *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())


def jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().decode("utf-8").splitlines()]


def csv_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as stream:
        return list(csv.DictReader(stream))


def wait_for_rows(path: Path, count: int, process: subprocess.Popen, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)


def one_line_error(stderr: bytes) -> str:
    """The error a command printed: exactly one line, never a traceback."""
    text = stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert errors, text
    return errors[0]
