"""The package's import graph (doc/architecture.rst): no module imports another that
imports it back, directly or through others, and the SGD loop imports nothing of the
package."""

import ast
from pathlib import Path

import sklearn_interp

PACKAGE = Path(sklearn_interp.__file__).parent


def _imports(path):
    """The package's modules that a module imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def _graph():
    """Module -> the modules it imports; ``from . import name`` of a name that is no
    module is an import of ``__init__``."""
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    return {
        path.stem: {name if name in modules else "__init__" for name in _imports(path)}
        for path in sorted(PACKAGE.glob("*.py"))
    }


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for other in sorted(graph.get(module, ())):
            if state.get(other) == "open":
                return [*trail[trail.index(other) :], other]
            if other not in state:
                cycle = visit(other, [*trail, other])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in graph:
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_itself_back():
    graph = _graph()
    assert {"_base", "_points", "_distributed", "_solver"} <= set(graph)
    assert _cycle(graph) is None


def test_the_sgd_loop_depends_on_nothing_above_it():
    assert _imports(PACKAGE / "_solver.py") == set()
