"""The packages form layers: each imports only from the ones below it, at module level or inside
a function. A test of the source, so that an upward import fails here before it makes a cycle."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "dialectid"
# bottom to top; the top-level modules are placed like packages
LAYERS = ["version", "errors", "extras", "jsonlines", "config", "paths", "keys", "taxonomy", "names", "audio", "data", "features", "models", "scoring",
          "evaluation", "train", "report", "casefile", "web", "demo", "doctor", "cli", "__init__", "__main__"]  # fmt: skip


def imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "dialectid":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    assert {p.relative_to(SRC).parts[0].removesuffix(".py") for p in SRC.rglob("*.py")} <= set(LAYERS)


def test_no_layer_imports_from_one_above_it():
    upward = []
    for path in SRC.rglob("*.py"):
        own = path.relative_to(SRC).parts[0].removesuffix(".py")
        for module in imports(path):
            target = layer_of(module)
            if target is not None and LAYERS.index(target) > LAYERS.index(own):
                upward.append(f"{path.relative_to(SRC)} imports {module}")
    assert upward == []


def test_the_check_sees_function_level_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from dialectid.web import app\n")
    assert list(imports(sample)) == ["dialectid.web"]
