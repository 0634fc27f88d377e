"""Data-only YAML configs, validated into typed pydantic objects.

A config never executes code: it is read with `yaml.safe_load`, unknown keys are errors, and
`--set a.b=c` overrides are applied to the parsed data before validation.

>>> from pydantic import BaseModel
>>> class Demo(BaseModel, extra="forbid"):
...     rate: int = 16000
>>> parse_config({}, Demo, ["rate=8000"]).rate
8000
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from dialectid.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def load_config(path: str | Path | None, model: type[M], overrides: Sequence[str] = ()) -> M:
    """Read a YAML file (or nothing, for the defaults), apply overrides, validate into `model`."""
    data: Any = {}
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the config ({err.strerror}); check the path") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            line = f" at line {where.line + 1}" if where else ""
            raise ConfigError(f"{path}: not valid YAML{line}; fix the syntax") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections; fix the file")
    return parse_config(data, model, overrides, source=str(path or "settings"))


def parse_config(data: dict[str, Any], model: type[M], overrides: Sequence[str] = (), source: str = "settings") -> M:
    """Validate `data` with `key.sub=value` overrides applied; raise `ConfigError` on any problem."""
    data = dict(data)
    for item in overrides:
        _apply_override(data, item, source)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        raise ConfigError(f"{source}: {where}: {first['msg']}{more}; fix the config") from None


def _apply_override(data: dict[str, Any], item: str, source: str) -> None:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{source}: override {item!r} is not of the form key.sub=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"{source}: override {item!r}: {part!r} is not a section")
        else:
            child = node[part] = dict(child)
        node = child
    node[leaf] = value
