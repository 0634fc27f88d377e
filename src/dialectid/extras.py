"""The optional extras, and the one line a command gives when the one it needs is not installed.

`pip install dialectid` is an operator's install: it scores recordings with the shipped models and
keeps the case file. Training (torch, plots, ONNX export), scoring on a Ray cluster and the web view
each bring packages an operator does not need, so each is an extra of its own (pyproject.toml's
`[project.optional-dependencies]`); scripts/install.sh installs them all. `EXTRAS` names the modules
each extra brings, and a command that needs one calls `require_extra` before its first import of
them, so a missing extra is one line that says what to install, not a traceback.

>>> sorted(EXTRAS)
['ray', 'train', 'web']
"""

from __future__ import annotations

import importlib.util

from dialectid.errors import DialectidError

# extra -> the top-level modules it brings (module names, which are not always the package names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": ("torch", "matplotlib", "onnx"),
    "ray": ("ray",),
    "web": ("fastapi", "uvicorn", "argon2", "itsdangerous", "python_multipart"),
}


class MissingExtraError(DialectidError):
    """A command needs an optional extra that this installation leaves out."""


def require_extra(extra: str, what: str) -> None:
    """Raise `MissingExtraError` unless every module of `extra` can be imported; imports nothing."""
    missing = [module for module in EXTRAS[extra] if not _installed(module)]
    if missing:
        raise MissingExtraError(
            f"{what} needs the [{extra}] extra ({', '.join(missing)} not installed): pip install 'dialectid[{extra}]'"
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # an import hook that refuses the name (as the tests' blocker does) says it is absent
        return False
