"""The import structure of mathcoder_local, read from the source with `ast` (nothing is imported).

Every module of the package is found with pkgutil (convert/ as mathcoder_local.convert and models/ as
mathcoder_local.models, as pyproject.toml's package-dir installs them). Each `import` and `from ... import`
statement that names a mathcoder_local module becomes an edge of the graph, wherever it stands: at the top,
inside functions and methods (lazy imports), under `try`, and `importlib.import_module("...")` calls with a
literal name. Relative imports are resolved against the importing module's package, and
`from pkg import name` leads to the submodule `pkg.name` when there is one, else to `pkg` itself (its
__init__ defines the name). Only the named module is an edge, not the packages above it: Python runs those
__init__ files first anyway, before the importing module could see a half-initialised one.

Imports under `if TYPE_CHECKING:` never run, so they are left out of the cycle check (they are the usual way to
name a type without a runtime cycle); they still count for the layering rule, which is about what code
depends on, not about what runs.

The rules:
- no import cycles (the failure lists every cycle found, one readable chain each, with file lines);
- nothing under mathcoder_local/engine/ imports mathcoder_local.formats: the engines generate tokens and know
  no prompt format;
- every imported mathcoder_local module exists (a lazy import of a moved module fails only when it runs).
"""

from __future__ import annotations

import ast
import pkgutil
from collections import deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mathcoder_local"
# pyproject.toml's [tool.setuptools] package-dir, used when tomllib (Python 3.11+) is missing.
PACKAGE_DIR = {"mathcoder_local.convert": "convert", "mathcoder_local.models": "models"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    lazy: bool  # inside a function or method: runs when called, not at import time
    type_checking: bool  # under `if TYPE_CHECKING:`: never runs

    def where(self, modules: dict[str, Path]) -> str:
        kind = " (type checking only)" if self.type_checking else " (inside a function)" if self.lazy else ""
        return f"{modules[self.source].relative_to(ROOT)}:{self.line}{kind}"


def _roots() -> dict[str, Path]:
    package_dir = PACKAGE_DIR
    try:
        import tomllib
    except ImportError:
        pass
    else:
        setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
        package_dir = dict(setuptools.get("package-dir", {}))
    return {PACKAGE: ROOT / PACKAGE, **{name: ROOT / folder for name, folder in package_dir.items()}}


def _walk(name: str, folder: Path, modules: dict[str, Path]) -> None:
    """Add the package `name` in `folder` and every module below it, without importing anything."""
    modules[name] = folder / "__init__.py"
    for info in pkgutil.iter_modules([str(folder)]):
        child = f"{name}.{info.name}"
        if info.ispkg:
            _walk(child, folder / info.name, modules)
        elif (folder / f"{info.name}.py").is_file():  # not compiled extensions: there is no source to read
            modules[child] = folder / f"{info.name}.py"


def all_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for name, folder in _roots().items():
        _walk(name, folder, modules)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Collects (absolute module name, names imported from it or None, line, lazy, type-checking-only)."""

    def __init__(self, module: str, is_package: bool):
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, list[str] | None, int, bool, bool]] = []
        self._depth = 0  # functions we are inside
        self._type_checking = 0  # `if TYPE_CHECKING:` bodies we are inside

    def _add(self, target: str, names: list[str] | None, node: ast.AST) -> None:
        self.found.append((target, names, node.lineno, self._depth > 0, self._type_checking > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, None, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        self._add(target, [alias.name for alias in node.names], node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant):
            if isinstance(node.args[0].value, str) and not node.args[0].value.startswith("."):
                self._add(node.args[0].value, None, node)
        self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_checking += 1
        for statement in node.body:
            self.visit(statement)
        self._type_checking -= 1
        for statement in node.orelse:
            self.visit(statement)


def import_graph(modules: dict[str, Path]) -> tuple[list[Edge], list[str]]:
    """The edges between mathcoder_local modules, and the imports that name a mathcoder_local module that
    does not exist (as 'file:line: name')."""
    edges: list[Edge] = []
    missing: list[str] = []
    for module, path in sorted(modules.items()):
        visitor = _Imports(module, is_package=path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for target, names, line, lazy, type_checking in visitor.found:
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            if target not in modules:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {target}")
                continue
            targets = {target} if names is None else set()
            for name in names or ():
                targets.add(f"{target}.{name}" if f"{target}.{name}" in modules else target)
            for resolved in sorted(targets - {module}):
                edges.append(Edge(module, resolved, line, lazy, type_checking))
    return edges, missing


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def find_cycles(edges: list[Edge]) -> list[list[str]]:
    """Every module that is on a cycle gets its shortest one; the same cycle found from two modules is listed
    once. Each cycle is a list of modules, starting at its alphabetically first and ending where it began."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, [])
        graph.setdefault(edge.target, [])
        if edge.target not in graph[edge.source]:
            graph[edge.source].append(edge.target)
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for component in _strongly_connected(graph):
        members = set(component)
        for start in component:
            # Breadth first from start's successors back to start, inside the component.
            parent: dict[str, str] = {}
            queue = deque()
            for child in sorted(graph[start]):
                if child in members and child not in parent:
                    parent[child] = start
                    queue.append(child)
            while queue and start not in parent:
                node = queue.popleft()
                for child in sorted(graph[node]):
                    if child in members and child not in parent:
                        parent[child] = node
                        queue.append(child)
            back, node = [], parent[start]
            while node != start:
                back.append(node)
                node = parent[node]
            path = [start, *reversed(back)]
            first = path.index(min(path))
            ring = tuple(path[first:] + path[:first])
            if ring not in seen:
                seen.add(ring)
                cycles.append([*ring, ring[0]])
    return sorted(cycles, key=lambda c: (len(c), c))


def _chain(cycle: list[str], edges: list[Edge], modules: dict[str, Path]) -> str:
    lines = [cycle[0]]
    for source, target in zip(cycle, cycle[1:], strict=False):
        where = ", ".join(e.where(modules) for e in edges if e.source == source and e.target == target)
        lines.append(f"  -> {target}    [{where}]")
    return "\n".join(lines)


def test_the_walk_finds_the_package_and_the_converter():
    modules = all_modules()
    assert {PACKAGE, f"{PACKAGE}.engine", f"{PACKAGE}.engine.llama", f"{PACKAGE}.convert"} <= set(modules)
    assert modules[f"{PACKAGE}.convert"] == ROOT / "convert" / "__init__.py"
    assert all(path.is_file() for path in modules.values())


def test_the_graph_resolves_every_import_form():
    modules = {name: ROOT / "x.py" for name in ("p", "p.a", "p.b", "p.c", "p.sub", "p.sub.d")}
    visitor = _Imports("p.sub.d", is_package=False)
    code = (
        "import p.a\nfrom . import e\nfrom .. import b, VALUE\nfrom ..c import f\n"
        "def g():\n    from p import sub\n"
        "if TYPE_CHECKING:\n    from p.a import T\nelse:\n    import p.c\n"
        "importlib.import_module('p.b')\n"
    )
    visitor.visit(ast.parse(code))
    assert visitor.found == [
        ("p.a", None, 1, False, False),
        ("p.sub", ["e"], 2, False, False),
        ("p", ["b", "VALUE"], 3, False, False),
        ("p.c", ["f"], 4, False, False),
        ("p", ["sub"], 6, True, False),
        ("p.a", ["T"], 8, False, True),
        ("p.c", None, 10, False, False),
        ("p.b", None, 11, False, False),
    ]
    graph = {"p.a": ["p.b"], "p.b": ["p.c"], "p.c": ["p.a", "p.sub"], "p.sub": ["p.sub.d"], "p.sub.d": ["p.sub"]}
    edges = [Edge(s, t, 1, False, False) for s, targets in graph.items() for t in targets]
    assert find_cycles(edges) == [["p.sub", "p.sub.d", "p.sub"], ["p.a", "p.b", "p.c", "p.a"]]
    assert _chain(["p.sub", "p.sub.d", "p.sub"], edges, modules).splitlines()[1] == "  -> p.sub.d    [x.py:1]"


def test_no_import_cycles():
    modules = all_modules()
    edges, _ = import_graph(modules)
    cycles = find_cycles([e for e in edges if not e.type_checking])
    report = "\n\n".join(_chain(cycle, edges, modules) for cycle in cycles)
    assert not cycles, f"{len(cycles)} import cycle(s) among mathcoder_local modules:\n\n{report}"


def test_engines_do_not_import_formats():
    modules = all_modules()
    edges, _ = import_graph(modules)
    bad = [
        f"{e.where(modules)}: {e.source} imports {e.target}"
        for e in edges
        if (e.source == f"{PACKAGE}.engine" or e.source.startswith(f"{PACKAGE}.engine."))
        and (e.target == f"{PACKAGE}.formats" or e.target.startswith(f"{PACKAGE}.formats."))
    ]
    assert not bad, "the engines must not depend on the prompt formats:\n" + "\n".join(bad)


def test_every_imported_module_exists():
    _, missing = import_graph(all_modules())
    assert not missing, "imports of mathcoder_local modules that do not exist:\n" + "\n".join(missing)
