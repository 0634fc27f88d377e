"""Data-only YAML configs, validated into typed pydantic objects.

A config never executes code: it is read with `yaml.safe_load`'s rules, unknown keys are errors,
and `--set a.b=c` overrides are applied to the parsed data before validation. Hostile files are
refused up front: anything but a regular UTF-8 file of at most 1 MiB, duplicate keys, deep nesting,
aliases that expand without bound, and (in every model) numbers that are not finite.

>>> from pydantic import BaseModel
>>> class Demo(BaseModel, extra="forbid"):
...     rate: int = 16000
>>> parse_config({}, Demo, ["rate=8000"]).rate
8000
"""

from __future__ import annotations

import stat
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from dialectid.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

MAX_CONFIG_BYTES = 2**20  # configs are a few kB; this keeps /dev/zero or a wrong file from filling memory
MAX_DEPTH = 32  # taxonomies need about six levels; the YAML composer recurses, so depth is bounded
MAX_VALUES = 100_000  # values after expanding aliases (a "billion laughs" file is a few lines)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, instances are immutable, and no
    float anywhere (plain, optional, in tuples or lists) may be NaN or infinite. YAML's `.nan`
    passes a field without bounds (a quality threshold: its check is silently off) and `.inf`
    one with only a lower bound, to crash in the workers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def load_config(path: str | Path | None, model: type[M], overrides: Sequence[str] = ()) -> M:
    """Read a YAML file (or nothing, for the defaults), apply overrides, validate into `model`."""
    data: Any = {}
    if path is not None:
        path = Path(path)
        try:
            data = safe_yaml(_read_text(path)) or {}
        except _Refused as err:
            raise ConfigError(f"{path}: {err.problem}{_line(err)}; fix the file") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML{_line(err)}; fix the syntax") from None
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
        value = safe_yaml(raw) if raw.strip() else ""
    except _Refused as err:
        raise ConfigError(f"{source}: override {key.strip()!r}: {err.problem}; fix the value") from None
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


def safe_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing duplicate keys, deep nesting and runaway aliases.

    >>> safe_yaml("a: {b: 1}")
    {'a': {'b': 1}}
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except RecursionError:  # not reachable within MAX_DEPTH, but never a traceback
        raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that a config must not be."""


class _Loader(yaml.SafeLoader):
    """The safe loader (no tags that build objects), plus the checks of `safe_yaml`."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._values: dict[int, int] = {}  # id(node) -> values under it, aliases expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        alias, mark = self.check_event(yaml.AliasEvent), self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:  # the node was composed before; an alias to one still open would be a cycle
            if id(node) not in self._values:
                raise _Refused(problem="an alias refers to the collection it is in", problem_mark=mark)
            return node
        children = node.value if isinstance(node, yaml.SequenceNode) else []
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        values = self._values[id(node)] = 1 + sum(self._values[id(child)] for child in children)
        if values > MAX_VALUES:
            raise _Refused(problem=f"more than {MAX_VALUES} values once aliases are expanded", problem_mark=mark)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else []:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then `key: ...` overrides the base, as YAML means it to
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                break  # the base class refuses it
            if key in seen:
                raise _Refused(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_text(path: Path) -> str:
    """The text of a regular UTF-8 file of at most `MAX_CONFIG_BYTES`. The file type is checked
    before opening, so a FIFO (whose open blocks) or a device is never opened."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"{path}: not a regular file; pass a YAML config file")
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config ({err.strerror}); check the path") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MiB, which no config is; check the path")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8") from None


def _line(err: yaml.YAMLError) -> str:
    where = getattr(err, "problem_mark", None)
    return f" at line {where.line + 1}" if where else ""
