"""No import cycle in xmt: every module can be read, and imported, after the modules it names.

The graph is built from the import statements themselves (ast), relative or absolute, at a module's top
or inside its functions (an import deferred into a function still ties the two modules together).
`from pkg import name` counts as an import of `pkg.name` when that is a module, else of `pkg`.
Registries filled by `import_submodules` (methods, data-set adapters) call a function, not an import
statement, so the plugins' imports of their registry are not cycles.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import xmt


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> its file, for every module of the package at `package_dir`."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` is, or lies in (its longest prefix that is a module); None outside the package."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def imports_of(name: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module `name` imports, anywhere in its file."""
    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module
            targets += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    return {known for target in targets if (known := _known(target, modules)) not in (None, name)}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    modules = module_files(package_dir)
    return {name: imports_of(name, modules) for name in modules}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, min(component), component) for component in components]


def _shortest_cycle(graph: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest path start -> ... -> start through `within` (breadth first)."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & within):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is on no cycle within {sorted(within)}")


def test_find_cycles_names_each_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"f"}, "f": {"e"}, "g": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_relative_and_deferred_imports_are_edges(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .b import thing\n")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("import os\n\ndef thing():\n    from .. import a\n    return a\n")
    (pkg / "c.py").write_text("from pkg.sub.b import thing\nfrom . import a\n")
    graph = import_graph(pkg)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.sub.b"}, "pkg.c": {"pkg.sub.b", "pkg.a"},
                     "pkg.sub": {"pkg.sub.b"}, "pkg.sub.b": {"pkg.a"}}
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.a"]]


def test_xmt_has_no_import_cycle():
    graph = import_graph(Path(xmt.__file__).parent)
    assert len(graph) > 50 and graph["xmt.__main__"], "the walk found xmt's modules and their imports"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_layers_import_only_downwards():
    """cli -> stages -> methods, artifacts -> models, data, losses -> engine (docs/architecture.md): no module
    imports one of a layer above it, and models/ and data/ are siblings that never import each other."""
    graph = import_graph(Path(xmt.__file__).parent)
    above = {"xmt.engine": ("xmt.data", "xmt.models", "xmt.methods", "xmt.stages", "xmt.cli", "xmt.artifacts"),
             "xmt.models": ("xmt.data", "xmt.methods", "xmt.stages", "xmt.cli", "xmt.artifacts"),
             "xmt.data": ("xmt.models", "xmt.methods", "xmt.stages", "xmt.cli", "xmt.artifacts"),
             "xmt.methods": ("xmt.stages", "xmt.cli"), "xmt.stages": ("xmt.cli",)}
    wrong = sorted(f"{module} imports {imported}" for module, imported_set in graph.items()
                   for layer, forbidden in above.items() if module == layer or module.startswith(layer + ".")
                   for imported in imported_set if any(imported == f or imported.startswith(f + ".") for f in forbidden))
    assert not wrong, "\n".join(wrong)
