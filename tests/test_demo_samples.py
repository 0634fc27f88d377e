"""Where the demo finds its recordings (#27 item 5): in the source checkout dialectid runs from, found
by `checkout_root`, which the default model's lookup uses too; an installed package has no checkout,
and the demo then says so in one typed line instead of failing on a path counted up from its file."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from dialectid import demo, paths
from dialectid.demo import CASES, MARKER, DemoError, prepare, samples_folder

ROOT = Path(__file__).resolve().parent.parent


def _checkout_root_of_a_copy(package: Path) -> Path | None:
    """`checkout_root()` of paths.py copied to `package`/paths.py, as if dialectid lay there."""
    package.mkdir(parents=True)
    shutil.copy(paths.__file__, package / "paths.py")
    spec = importlib.util.spec_from_file_location("copied_paths", package / "paths.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.checkout_root()


def test_checkout_root_is_the_clone_and_none_for_an_installed_package(tmp_path):
    assert paths.checkout_root() == ROOT
    clone = tmp_path / "clone"
    (clone / "src").mkdir(parents=True)
    (clone / "pyproject.toml").touch()
    assert _checkout_root_of_a_copy(clone / "src" / "dialectid") == clone
    assert _checkout_root_of_a_copy(tmp_path / "venv" / "lib" / "site-packages" / "dialectid") is None
    # installed (pip --target) into a folder of another project, which has a pyproject.toml of its own
    other = tmp_path / "other"
    (other / "vendor").mkdir(parents=True)
    (other / "pyproject.toml").touch()
    assert _checkout_root_of_a_copy(other / "vendor" / "dialectid") is None


def test_the_demo_finds_every_recording_it_uses_in_the_checkout():
    assert samples_folder() == ROOT / "datasets" / "samples"
    assert all((samples_folder() / name).is_file() for case in CASES for name in case.recordings)


@pytest.fixture
def old_demo(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / MARKER).write_text('{"cases": []}\n')
    return folder


def test_outside_a_checkout_the_demo_says_where_it_runs_from_and_keeps_the_old_demo(old_demo, monkeypatch):
    monkeypatch.setattr(demo, "checkout_root", lambda: None)
    with pytest.raises(DemoError) as refused:
        prepare(old_demo, old_demo / "no-model", rebuild=True)
    assert str(refused.value) == (
        "the demo needs the sample recordings of a source checkout (datasets/samples), and dialectid runs "
        f"from {Path(demo.__file__).parent}, not from one; run it from a clone"
    )
    assert (old_demo / MARKER).is_file()  # refused before the old demo was removed


def test_a_checkout_without_its_samples_names_the_folder(old_demo, monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "checkout_root", lambda: tmp_path)
    with pytest.raises(DemoError) as refused:
        prepare(old_demo, old_demo / "no-model", rebuild=True)
    assert str(refused.value) == (
        f"{tmp_path / 'datasets' / 'samples'}: the demo's sample recordings are missing; "
        "restore datasets/samples of the checkout"
    )
    assert (old_demo / MARKER).is_file()
