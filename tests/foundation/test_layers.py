"""The floors of the package and which way imports point, read from the source (ast), so a
newcomer's shortcut through the floors fails here, not in review.

    ui, commands  ->  session  ->  jobs  ->  project  ->  media  ->  sdanet  ->  data
                                                                        (and the small shared modules)
Only ui/ imports Qt; project/ imports neither the method (sdanet/) nor Qt; no two modules import
each other, directly or in a ring (imports inside functions count: they still tie the modules).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sdanet_gui"
# a floor may import the floors after it in this list, never those before it
FLOORS = ["ui", "commands", "session", "jobs", "project", "media", "sdanet", "data"]
QT = ("PySide6", "pyqtgraph", "shiboken6")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree):
    """Every node except those under `if TYPE_CHECKING:` (annotations only, never imported)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                todo.extend(child.orelse)
                continue
            todo.append(child)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names; relative imports resolved)."""
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import theme` imports a module
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in files and m != name} for name, path in files.items()}


def _floor(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in FLOORS) else None


def test_imports_point_down_the_floors():
    wrong = []
    for module, targets in _graph().items():
        src = _floor(module)
        for target in targets:
            dst = _floor(target)
            if src in FLOORS and dst in FLOORS and FLOORS.index(dst) < FLOORS.index(src):
                wrong.append(f"{module} imports {target} ({src}/ is below {dst}/)")
    assert not wrong, "\n".join(sorted(wrong))


def test_only_ui_imports_qt_and_project_imports_no_method():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        floor = _floor(module)
        for imported in _imports(path):
            if imported.split(".")[0] in QT and floor != "ui":
                wrong.append(f"{module} imports {imported}")
            if floor == "project" and _floor(imported) in ("sdanet", "jobs", "session", "ui"):
                wrong.append(f"{module} imports {imported}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_is_part_of_an_import_cycle():
    graph = _graph()
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            # a package's __init__ importing its own modules is not a cycle worth refusing
            component = [m for m in component if not any(o.startswith(m + ".") for o in component)]
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_every_folder_of_the_package_says_what_it_is_for():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 5, f"{init.parent}: its __init__.py needs a one-line purpose"
