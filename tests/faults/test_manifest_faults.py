"""A manifest that is a pipe or leads to a device (issue #26, item 10): `train` with `data.train` a
FIFO hung for ever, with /dev/zero it read until MemoryError. Each is now one line, before any read."""

from __future__ import annotations

import os
import resource

import pytest

from batchkit import dialectid, one_line_error
from toy import write_config

MEMORY_CAP = 4 << 30  # broken code reading /dev/zero fails at this size, not when the machine is out of memory


def capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.fixture(params=["named pipe", "device"])
def odd_manifest(request, tmp_path):
    path = tmp_path / "train.jsonl"
    os.mkfifo(path) if request.param == "named pipe" else path.symlink_to("/dev/zero")
    return path, request.param


def test_train_refuses_a_manifest_that_is_not_a_regular_file(odd_manifest, tmp_path):
    path, kind = odd_manifest
    config = write_config(tmp_path / "config.yaml", {"train": path}, "stats-logreg", tmp_path / "runs",
                          features={"kind": "mfcc_sdc", "n_mels": 24, "n_ceps": 7})  # fmt: skip
    result = dialectid("train", config, timeout=90, preexec_fn=capped)
    assert result.returncode == 2, result.stderr.decode(errors="replace")
    line = one_line_error(result.stderr)
    assert str(path) in line and kind in line


def test_data_commands_refuse_it_too(odd_manifest):
    path, kind = odd_manifest
    result = dialectid("data", "stats", path, timeout=90, preexec_fn=capped)
    assert result.returncode == 2 and kind in one_line_error(result.stderr)


def test_a_runs_dir_that_is_a_file_is_one_line(tmp_path):
    """output.runs_dir naming an existing file was a FileExistsError traceback (issue 26 item 9)."""
    from dialectid.errors import ConfigError
    from dialectid.train.trainer import run_folder

    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(ConfigError, match=r"^output.runs_dir: cannot make .*runs/toy \(.*\); give a folder"):
        run_folder(tmp_path / "runs", "toy", resume=False)
