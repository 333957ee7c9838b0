"""The project's layers only look downward, and no module imports another in a circle.

Read from the source (every ``import`` statement, at top level or inside a function), so it holds
for the lazy imports too: ``cli``/``commands`` → ``driver`` → ``dashboards`` → ``tune`` →
``tracking``, ``spec`` → ``analysis`` → ``common`` → ``trainable``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("study", "trainable", "dashboards")
RANK = {  # a module may import modules of its own rank or below
    "study.cli": 7, "study.commands": 7, "study.driver": 6, "dashboards": 5, "study.tune": 4,
    "study.tracking": 3, "study.spec": 3, "study.analysis": 2, "study.common": 1, "study.testing.faults": 1,
    "study": 1, "trainable": 0,
}
ORCHESTRATION = ("ray", "optuna", "mlflow")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def _project(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m, path in MODULES.items():
        targets = {_project(n) for n in _imports(path)}
        out[m] = {t for t in targets if t and t != m and not m.startswith(t + ".")}  # not its own package
    return out


def _rank(module: str) -> int | None:
    best = max((k for k in RANK if module == k or module.startswith(k + ".")), key=len, default=None)
    return None if best is None else RANK[best]


def test_no_import_circle() -> None:
    g = graph()
    seen: dict[str, int] = {}  # 1: on the path, 2: done
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for t in sorted(g[m]):
            if seen.get(t) == 1:
                cycles.append(path[path.index(t):] + [t])
            elif t not in seen:
                visit(t, path + [t])
        seen[m] = 2

    for m in sorted(g):
        if m not in seen:
            visit(m, [m])
    assert not cycles, "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_layers_only_look_downward() -> None:
    wrong = []
    for m, targets in graph().items():
        if m.startswith("study.testing") and m != "study.testing.faults":
            continue  # the stand-in trainable for tests sits on top of the tune layer, below nothing
        for t in targets:
            if t.startswith("study.testing") and t != "study.testing.faults":
                wrong.append(f"{m} -> {t} (a product module importing the test stand-in)")
            elif (rm := _rank(m)) is not None and (rt := _rank(t)) is not None and rt > rm:
                wrong.append(f"{m} -> {t}")
    assert not wrong, "upward imports:\n" + "\n".join(sorted(wrong))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("trainable")))
def test_trainable_imports_no_orchestration(module: str) -> None:
    bad = {n for n in _imports(MODULES[module]) if n.split(".")[0] in (*ORCHESTRATION, "study", "dashboards")}
    assert not bad, f"{module} imports {sorted(bad)}"


def test_the_graph_is_read() -> None:
    g = graph()
    assert "study.tune.trainable" in g and "study.tune.reporting" in g["study.tune.trainable"]
    assert len(MODULES) > 80
