"""Imports point one way: tools → services → kernel (intentflow). No service imports another service,
and the kernel has no import cycles. Read from the source with ast, so a lazy import inside a function
counts as much as one at the top of a module."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"intentflow": 0, "services": 1, "tools": 2}


def imports_of(path: Path, with_names: bool = False) -> set[str]:
    """Modules a file imports; with_names adds "module.name" for every `from module import name`."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if with_names:
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for top in LAYERS:
        for path in (ROOT / top).rglob("*.py"):
            if "v1" not in path.relative_to(ROOT).parts[:2]:  # generated protobuf code
                modules[module_name(path)] = path
    return modules


def violations(modules: dict[str, Path]) -> list[str]:
    problems = []
    for name, path in modules.items():
        top = name.split(".")[0]
        for target in imports_of(path):
            target_top = target.split(".")[0]
            if target_top not in LAYERS:
                continue
            if LAYERS[target_top] > LAYERS[top]:
                problems.append(f"{name} imports {target} (upward: {top} → {target_top})")
            elif top == target_top == "services" and target.split(".")[:2] != name.split(".")[:2] \
                    and len(target.split(".")) > 1:
                problems.append(f"{name} imports {target} (another service)")
    return sorted(set(problems))


def kernel_cycles(modules: dict[str, Path]) -> list[list[str]]:
    kernel = {n: p for n, p in modules.items() if n.split(".")[0] == "intentflow"}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in kernel.items():
        for target in imports_of(path, with_names=True):
            # "from intentflow.nlp import linguistics" names a module; "from intentflow.wire import x" a symbol.
            while target and target not in kernel:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(kernel):
        if node not in state:
            visit(node, [node])
    return cycles


def test_imports_point_from_tools_to_services_to_kernel_only():
    assert violations(project_modules()) == []


def test_kernel_has_no_import_cycles():
    assert kernel_cycles(project_modules()) == []


@pytest.mark.parametrize("source, target, expected", [
    ("intentflow/extra.py", "from services.match.store import Store", "upward"),
    ("intentflow/extra.py", "import tools.stack", "upward"),
    ("services/classify/extra.py", "from tools.cli import main", "upward"),
    ("services/classify/extra.py", "from services.match.matching.scorer import Scorer", "another service"),
    ("services/classify/extra.py", "def f():\n    from services.ingest.dedup import SeenWindow", "another service"),
])
def test_the_check_catches_a_violation(tmp_path, monkeypatch, source, target, expected):
    path = tmp_path / source
    path.parent.mkdir(parents=True)
    path.write_text(target + "\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    found = violations({module_name(path): path})
    assert len(found) == 1 and expected in found[0]


def test_the_check_catches_a_kernel_cycle(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    (tmp_path / "intentflow").mkdir()
    a, b = tmp_path / "intentflow" / "a.py", tmp_path / "intentflow" / "b.py"
    a.write_text("from intentflow.b import x\n")
    b.write_text("def f():\n    from intentflow import a\n")
    assert kernel_cycles({module_name(a): a, module_name(b): b})
