"""The package graph: features depend on each other without cycles, and a view never imports
another feature's views (the data goes through services)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bimtek"
FEATURES = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    """Modules imported anywhere in the file (also inside functions: a cycle deferred to call
    time is still a cycle)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("bimtek.")}


def _feature(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None


def _module_files():
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue
        yield ".".join(relative.parts), path


def _feature_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {f: set() for f in FEATURES}
    for module, path in _module_files():
        source = _feature(module)
        if source is None:
            continue
        for target in map(_feature, _imports(path)):
            if target and target != source:
                graph[source].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_feature_packages_have_no_import_cycles():
    assert _cycle(_feature_graph()) is None, " → ".join(_cycle(_feature_graph()) or [])


def test_no_view_imports_another_features_views():
    offenders = []
    for module, path in _module_files():
        if not module.endswith(".views"):
            continue
        for imported in _imports(path):
            if ".views" in imported and _feature(imported) != _feature(module):
                offenders.append(f"{module} imports {imported}")
    assert offenders == []


def test_app_plumbing_does_not_import_features():
    """web.py and config.py serve every feature; a feature registers what it needs itself."""
    for name in ("web.py", "config.py", "extensions.py", "timeutil.py"):
        imported = {_feature(m) for m in _imports(PACKAGE / name)} - {None}
        assert imported == set(), f"{name} imports {sorted(imported)}"
