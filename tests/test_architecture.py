"""The library's imports point one way: down the layers below, never up, and no two parts import each
other — counting imports inside functions, which hide a cycle from Python but not from a reader.

Only ``if TYPE_CHECKING:`` blocks are skipped: they exist for annotations and never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own part (recsys.models.* among themselves) and anything in a
# lower layer or its own. evaluate sits below the models: it needs only ``score`` and ``recommend``, and
# the torch models stop early on a validation evaluation.
LAYERS = [
    ["recsys", "recsys.errors", "recsys.io", "recsys.progress", "recsys.checks", "recsys.cache",
     "recsys.distributed", "recsys.memory"],
    ["recsys.data"],
    ["recsys.split", "recsys.metrics", "recsys.ranking"],
    ["recsys.evaluate"],
    ["recsys.models"],
    ["recsys.artifacts", "recsys.explain", "recsys.index", "recsys.projection", "recsys.rerank",
     "recsys.compare", "recsys.compress", "recsys.search"],
    ["recsys.pipeline", "recsys.service"],
    ["recsys.api"],
    ["recsys.cli", "recsys.__main__"],
]
LAYER = {part: i for i, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """The layer entry a module belongs to: recsys.models.gpt -> recsys.models."""
    pieces = module.split(".")
    return ".".join(pieces[:2])


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / "recsys").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported recsys module, line) for every import statement, at any depth."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "recsys"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "recsys":
            if node.module == "recsys":                      # from recsys import metrics, distributed
                out += [(f"recsys.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((node.module, node.lineno))
    return out


def edges() -> list[tuple[str, str, int, str]]:
    """(importing module, imported module, line, file) across the library."""
    found = modules()
    out = []
    for name, path in found.items():
        for target, line in imports(path):
            if target not in found and target.rsplit(".", 1)[0] in found:
                target = target.rsplit(".", 1)[0]            # `from recsys import __version__`
            out.append((name, target, line, str(path.relative_to(ROOT))))
    return out


def test_every_module_has_a_layer():
    missing = sorted({part_of(m) for m in modules()} - set(LAYER))
    assert not missing, f"place these in LAYERS (tests/test_architecture.py): {missing}"


def test_no_import_points_up():
    up = [f"{file}:{line}: {a} imports {b}" for a, b, line, file in edges()
          if part_of(a) != part_of(b) and LAYER.get(part_of(b), -1) > LAYER.get(part_of(a), -1)]
    assert not up, "\n".join(up)


def test_no_two_parts_import_each_other():
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for a, b, line, file in edges():
        pa, pb = part_of(a), part_of(b)
        if pa != pb:
            graph.setdefault(pa, set()).add(pb)
            where.setdefault((pa, pb), f"{file}:{line}")
    cycles = []

    def visit(node, path):
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                loop = path[path.index(nxt):] + [nxt]
                cycles.append(" -> ".join(loop) + "  (" + ", ".join(
                    where[(x, y)] for x, y in zip(loop, loop[1:])) + ")")
            elif len(path) < len(graph) + 1:
                visit(nxt, path + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "\n".join(sorted(set(cycles)))


def test_the_library_never_imports_streamlit_or_the_pages():
    bad = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{name}:{node.lineno} imports {n}" for n in names
                    if n.split(".")[0] in ("streamlit", "views", "app")]
    assert not bad, bad


@pytest.mark.parametrize("source, expected", [
    ("from recsys.models.base import Recommender", [("recsys.models.base", 1)]),
    ("def f():\n    from recsys.evaluate import evaluate", [("recsys.evaluate", 2)]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from recsys.models import X", []),
    ("from recsys import metrics as M", [("recsys.metrics", 1)]),
])
def test_the_check_sees_imports_inside_functions(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert imports(path) == expected
