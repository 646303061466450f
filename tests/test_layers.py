"""The library's layers, as scripts/llm_clusters/__init__.py describes them: each module imports
only its own layer, the layers before it and the shared modules, apart from the two imports the
package docstring names; and every module is named in its package's docstring, so the map stays
whole as modules come and go."""

from __future__ import annotations

import ast
from pathlib import Path

import llm_clusters

PACKAGE = Path(llm_clusters.__file__).parent
SHARED = {"cli", "environment", "errors", "model", "run_ids", "timestamps", "display"}
LAYERS = ["read", "posthog", "analyse", "views", "report", "commands"]
# (importer, imported): the data ties these layers together; the package docstring says why.
AGAINST_THE_LAYERS = {("read.interpret", "analyse.overview"), ("posthog.compare_sql", "analyse.similarity")}


def _modules() -> dict[str, Path]:
    return {".".join(path.relative_to(PACKAGE).with_suffix("").parts): path
            for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"}


def _imported(name: str, path: Path) -> set[str]:
    """The library modules `name` imports, anywhere in it (function-level imports included)."""
    package = name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.update(f"{target}.{alias.name}".lstrip(".") if not node.module else target
                         for alias in node.names)
    return found


def _layer(name: str) -> int:
    first = name.split(".")[0]
    return -1 if name in SHARED else LAYERS.index(first)


def test_every_module_is_shared_or_in_a_layer():
    for name in _modules():
        assert name in SHARED or name.split(".")[0] in LAYERS, name


def test_imports_go_to_the_shared_modules_or_an_earlier_layer():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for target in _imported(name, path):
            if target not in modules:  # a package (`from . import x` is resolved to the module)
                continue
            if name in SHARED and target not in SHARED:
                wrong.append((name, target))
            elif _layer(target) > _layer(name) and (name, target) not in AGAINST_THE_LAYERS:
                wrong.append((name, target))
    assert wrong == []


def test_the_two_exceptions_are_still_there():
    """Remove one from AGAINST_THE_LAYERS (and the package docstring) when the code drops it."""
    modules = _modules()
    for name, target in AGAINST_THE_LAYERS:
        assert target in _imported(name, modules[name])
        assert f"`{target}`" in llm_clusters.__doc__


def test_every_module_is_named_in_its_packages_docstring():
    for name in _modules():
        *package, module = name.split(".")
        init = PACKAGE.joinpath(*package, "__init__.py")
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert f"`{module}`" in doc or f"{module}/" in doc or package == ["commands"], name
