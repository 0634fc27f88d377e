"""An operator's install (no extras) scores with the shipped models; a command that needs an extra
says which in one line. The extras are hidden from a child Python by an import hook that refuses
their modules, as a base install that never had them would, including in the processes it spawns; and
nothing the base requirements require, all the way down, is a package of an extra."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from audiofactory import espeak
from dialectid.audio.vad import SILERO_SHA256
from dialectid.extras import EXTRAS, MissingExtraError, require_extra

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Every extra's modules, with what they bring that dialectid imports too (starlette, FastAPI's),
# faster-whisper, which only the tests and the benchmarks use, and silero_vad, whose ONNX file the
# VAD read until #27 (the package requires torch; the file now ships inside dialectid).
HIDDEN = sorted(
    {module for modules in EXTRAS.values() for module in modules} | {"starlette", "faster_whisper", "silero_vad"}
)
BLOCKER = f"""
import sys

HIDDEN = {HIDDEN!r}


class Hidden:
    # Refuses the extras' modules as a base install would: ModuleNotFoundError on import, nothing found.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden: not in a base install)", name=name)
        return None


sys.meta_path.insert(0, Hidden())
"""


def python_without_extras(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`python ARGS` with the extras hidden, in this test's private home (DIALECTID_HOME)."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(BLOCKER)  # imported at start-up by every child Python, workers too
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))},
        stdin=subprocess.DEVNULL,
        timeout=300,
        cwd=tmp_path,
    )


def base_install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The `dialectid` command as an operator's install without extras runs it."""
    return python_without_extras(tmp_path, "-m", "dialectid", *args)


def test_the_hook_refuses_every_hidden_module(tmp_path):
    """The checks below can fail: under the hook, a module-level import of any extra's module (torch,
    ray, fastapi, ...) anywhere on the scoring path stops the command."""
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n try: importlib.import_module(m)\n except ImportError as e: print(e)"
    probe = python_without_extras(tmp_path, "-c", script, *HIDDEN)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == [f"No module named '{m}' (hidden: not in a base install)" for m in HIDDEN]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_operator_scores_with_a_shipped_model_without_the_extras(tmp_path, workers):
    """torch, Ray, FastAPI, matplotlib and ONNX are out of reach; `dialectid score` still runs the
    model to probabilities, in this process and in spawned workers."""
    text = "The weather is fine today, and after work we will walk to the market to buy bread and fish."
    files = [str(espeak(text, tmp_path / f"speech{i}.wav")) for i in range(int(workers))]
    out = tmp_path / "results.jsonl"
    model = str(ROOT / "models" / "lid-fast")
    result = base_install(tmp_path, "score", *files, "--model", model, "--workers", workers, "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(files)
    assert all(row["probabilities"] for row in rows), rows  # the model ran: VAD, Whisper encoder, back-end


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["serve"], "the web view needs the [web] extra"),
        (["demo", "--no-serve", "--home", "demo"], "the demo (a case file for the web view) needs the [web] extra"),
        (["users", "add", "ana", "--role", "analyst"], "a web view password needs the [web] extra"),
        (["train", "missing.yaml"], "training needs the [train] extra"),
        (["evaluate", "bundle", "clips.jsonl", "-o", "out"], "evaluation needs the [train] extra"),
        (["model", "export", "bundle", "--onnx", "out.onnx"], "ONNX export needs the [train] extra"),
        (["score", "x.wav", "--engine", "ray"], "--engine ray needs the [ray] extra"),
    ],
)
def test_a_command_that_needs_a_missing_extra_says_which_in_one_line(tmp_path, args, line):
    result = base_install(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {line} (")
    assert f"pip install 'dialectid[{line.split('[')[1].split(']')[0]}]'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_doctor_passes_on_a_base_install_and_says_torch_is_skipped(tmp_path):
    result = base_install(tmp_path, "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped, training needs the [train] extra" in result.stdout


def test_require_extra_names_what_is_missing(monkeypatch):
    require_extra("web", "the web view")  # the test install has every extra
    monkeypatch.setitem(EXTRAS, "web", ("fastapi", "no_such_module_here"))
    with pytest.raises(
        MissingExtraError, match=r"\(no_such_module_here not installed\): pip install 'dialectid\[web\]'"
    ):
        require_extra("web", "the web view")


def _name(requirement: str) -> str:
    """A requirement's project name, normalised (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def test_each_extra_in_pyproject_brings_the_modules_dialectid_checks_for():
    """`EXTRAS` and pyproject.toml's extras name the same packages, and none is in the base install."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    base = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    providers = packages_distributions()
    for extra, modules in EXTRAS.items():
        packages = {_name(r) for r in extras[extra]}
        provided = {_name(d) for m in modules for d in providers[m]}
        assert provided == packages, extra
        assert not packages & base, extra
    assert {"train", "ray", "web"} <= {_name(e) for e in re.findall(r"\[([^]]+)\]", extras["test"][0])[0].split(",")}


def _required_by(requirement: Requirement) -> list[Requirement]:
    """What the installed distribution of `requirement` requires, with the extras it is asked for."""
    extras = requirement.extras or {""}
    found = [Requirement(r) for r in requires(requirement.name) or []]
    return [r for r in found if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras)]


def test_nothing_the_base_requirements_pull_in_is_a_package_of_an_extra():
    """pip installs what each base requirement requires, all the way down, so hiding torch from the
    scorer is not enough: none of it may be torch, Ray or FastAPI (silero-vad, a base requirement
    until #27, required torch). Read from the installed packages, the versions constraints.txt pins."""
    chains: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
    todo = [(Requirement(r), ("dialectid",)) for r in PYPROJECT["project"]["dependencies"]]
    while todo:
        requirement, chain = todo.pop()
        key = (_name(requirement.name), tuple(sorted(requirement.extras)))
        if key not in chains:
            chains[key] = (*chain, key[0])
            todo += [(r, chains[key]) for r in _required_by(requirement)]
    extras = {_name(r) for extra in EXTRAS for r in PYPROJECT["project"]["optional-dependencies"][extra]}
    pulled = sorted(" -> ".join(chain) for (name, _), chain in chains.items() if name in extras)
    assert not pulled, pulled
    assert {"numpy", "onnxruntime", "ctranslate2", "packaging"} <= {name for name, _ in chains}  # the walk went down


def test_the_wheel_ships_py_typed_and_the_vad_model_and_leaves_the_extras_out_of_its_requirements(tmp_path):
    """Built from a copy of the tree (a build writes build/ and egg-info beside its source)."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", str(source)]
    subprocess.run([*build, "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("dialectid-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "dialectid/py.typed" in archive.namelist()
        assert "dialectid/audio/SOURCE.md" in archive.namelist()  # the VAD model's source and MIT licence
        assert hashlib.sha256(archive.read("dialectid/audio/silero_vad.onnx")).hexdigest() == SILERO_SHA256
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    requires = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    unconditional = {_name(r) for r in requires if "extra ==" not in r}
    for extra in EXTRAS:
        assert not {_name(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]} & unconditional
    assert {"numpy", "onnxruntime", "ctranslate2"} <= unconditional
