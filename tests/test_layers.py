"""Which app may import which: the layers of Seams, checked on the source.

    common, idempotency  ←  taxonomy  ←  incidents, review_templates
        ←  similarity, duplicates, notifications, people  ←  reports, reviewflow, actions, exports
        ←  chat, webhooks, trackers, timeline_import (integrations with other tools)

An app imports only from the layers to its left (and from itself); `config` puts them all
together and may import anything. Every import counts, also one inside a function: a lazy
import is still a dependency, only a hidden one.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS = [{"common", "idempotency"}, {"taxonomy"}, {"incidents", "review_templates"},
          {"similarity", "duplicates", "notifications", "people"},
          {"reports", "reviewflow", "actions", "exports"},
          {"chat", "webhooks", "trackers", "timeline_import"}]  # fmt: skip
APPS = set().union(*LAYERS)
LEVEL = {app: n for n, layer in enumerate(LAYERS) for app in layer}

# Upward imports that predate this test and are not yet undone: incidents asks similarity
# for similar reviews (API, review page, search) and duplicates for possible duplicates
# after an analysis. Listed so that the test fails on any new one, and on these once they
# are gone. (The catalogue's pages that list reviews are served by incidents.views_catalogue:
# taxonomy imports nothing above it.)
KNOWN_UPWARD = {("incidents", "similarity"), ("incidents", "duplicates")}


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    """The Seams modules `name` imports, resolved (relative imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in out if m.split(".")[0] in APPS}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        # `from x import y` may name a module or a name in x: keep whichever is a module.
        graph[name] = {m if m in modules else m.rpartition(".")[0] for m in _imports(name, path)}
        graph[name] = {m for m in graph[name] if m in modules and m != name}
    return graph


def test_each_app_imports_only_the_layers_below_it():
    upward = set()
    for module, targets in _graph().items():
        app = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if LEVEL[other] > LEVEL[app]:
                upward.add((app, other, module, target))
    unexpected = sorted(u for u in upward if (u[0], u[1]) not in KNOWN_UPWARD)
    assert unexpected == [], "imports against the layers (app, imported app, module, target)"
    assert {(a, b) for a, b, *_ in upward} == KNOWN_UPWARD, "a known upward import is gone"


def test_incidents_never_imports_reports_and_taxonomy_never_imports_incidents():
    graph = _graph()
    for module, targets in graph.items():
        if module.startswith(("incidents", "similarity", "duplicates")):
            assert not any(t.startswith("reports") for t in targets), module
        if module.startswith(("taxonomy", "common")):
            assert not any(t.split(".")[0] in {"incidents", "reports"} for t in targets), module


def _cycles(graph: dict[str, set[str]], within: str) -> list[list[str]]:
    """Import cycles among the modules of one package (depth-first, each reported once)."""
    nodes = {m for m in graph if m.split(".")[0] == within}
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node] & nodes):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for node in sorted(nodes):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycle_among_the_modules_of_reports_taxonomy_or_common():
    graph = _graph()
    for package in ("reports", "taxonomy", "common"):
        assert _cycles(graph, package) == [], package


def test_the_checker_sees_relative_and_function_level_imports(tmp_path):
    source = tmp_path / "tasks.py"
    source.write_text("from .models import Report\n\ndef f():\n    from .services import go\n")
    assert _imports("reports.tasks", source) == {
        "reports.models",
        "reports.models.Report",
        "reports.services",
        "reports.services.go",
    }
