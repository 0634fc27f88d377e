"""The output side of a batch run against an unlucky or hostile operator (issue #26, item 9): a results
file or reports folder that is a pipe, a device, a directory, a file, or not writable. Each is one
line naming it, before anything is scored, and never a hang, a traceback or memory run out.

The tests run as root, who may write anywhere; permission is tried from a child that has dropped to
an unprivileged user. A read-only filesystem or a full disk ends in the same `OSError` branch.
"""

from __future__ import annotations

import json
import os
import resource

import pytest
from typer.testing import CliRunner

from batchkit import dialectid, one_line_error
from corpora import random_bytes
from dialectid.cli import app
from privileges import as_nobody

MEMORY_CAP = 4 << 30  # a run that reads /dev/zero fails at this size, not when the machine is out of memory


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def refused(*args) -> str:
    """The run's one-line error; the command exits 2 (nothing scored) within the time bound."""
    result = dialectid(*args, timeout=90, preexec_fn=capped)
    assert result.returncode == 2, result.stderr.decode(errors="replace")
    return one_line_error(result.stderr)


@pytest.fixture()
def junk(tmp_path):
    return random_bytes(tmp_path / "junk.wav")


def test_a_results_file_that_is_a_pipe_is_refused_without_opening_it(junk, tmp_path):
    fifo = tmp_path / "rows.jsonl"
    os.mkfifo(fifo)
    line = refused("score", junk, "-o", fifo)
    assert str(fifo) in line and "named pipe" in line


def test_a_results_file_that_leads_to_a_device_is_refused(junk, tmp_path):
    link = tmp_path / "rows.jsonl"
    link.symlink_to("/dev/zero")
    line = refused("score", junk, "-o", link)
    assert str(link) in line and "a device" in line


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_results_file_that_is_a_directory_is_refused(junk, tmp_path, suffix):
    folder = tmp_path / f"rows{suffix}"
    folder.mkdir()
    line = refused("score", junk, "-o", folder)
    assert str(folder) in line and "a directory" in line


def test_a_results_file_under_a_file_is_refused(junk, tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    target = tmp_path / "notes.txt" / "rows.jsonl"
    line = refused("score", junk, "-o", target)
    assert str(target) in line and "cannot write the results file" in line


def test_reports_that_cannot_be_a_folder_are_refused(junk, tmp_path):
    (tmp_path / "reports").write_text("a file where the folder should be")
    line = refused("score", junk, "--reports", tmp_path / "reports")
    assert str(tmp_path / "reports") in line and "cannot hold the reports" in line


def test_outputs_the_user_cannot_write_are_one_line(junk, tmp_path):
    """As an unprivileged user, under a folder only root may enter: the results file and the reports."""
    runner = CliRunner()
    runner.invoke(app, ["score", str(junk), "-o", str(tmp_path / "warm.jsonl")])  # loads what the child needs
    tmp_path.chmod(0o755)
    junk.chmod(0o644)

    def run(*args: str) -> str:
        result = runner.invoke(app, ["score", str(junk), *args])
        return json.dumps([result.exit_code, result.stderr])

    for args, expected in (((f"-o{tmp_path / 'out' / 'rows.jsonl'}",), "cannot write the results file"),
                           ((f"--reports={tmp_path / 'reports'}",), "cannot hold the reports")):  # fmt: skip
        exit_code, stderr = json.loads(as_nobody(lambda args=args: run(*args)))
        assert exit_code == 2 and stderr.count("\n") == 1, stderr
        assert expected in stderr and "Permission denied" in stderr
    exit_code, stderr = json.loads(as_nobody(run))  # the recording too lies where the user may not go
    assert exit_code == 1 and f"error: {junk}: no permission to reach the file" in stderr, stderr
