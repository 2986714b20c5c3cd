"""Imports inside functions are the exception (DESIGN "Directions of dependency"): services import
their tasks at the top, and each import left inside a function says why, `# local: <reason>`, on
the line above it (one comment may cover a run of consecutive imports) or at its end."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "platform" / "franchise_platform", ROOT / "tenants")


def _function_local_imports(tree: ast.AST) -> list[ast.stmt]:
    found: list[ast.stmt] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and in_function:
                found.append(child)
            walk(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    walk(tree, False)
    return found


def _explained(lines: list[str], node: ast.stmt) -> bool:
    if "# local:" in "".join(lines[node.lineno - 1 : node.end_lineno or node.lineno]):
        return True
    index = node.lineno - 2
    # Up over the run of imports this one belongs to, to the comment above the first.
    while index >= 0 and lines[index].lstrip().startswith(("from ", "import ")):
        index -= 1
    return index >= 0 and lines[index].lstrip().startswith("# local:")


def unexplained_local_imports() -> list[str]:
    missing = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            lines = text.splitlines()
            for node in _function_local_imports(ast.parse(text)):
                if not _explained(lines, node):
                    missing.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}"
                    )
    return missing


def test_every_function_local_import_says_why() -> None:
    assert unexplained_local_imports() == []


def test_services_import_their_tasks_at_the_top() -> None:
    offenders = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            if "migrations" in path.parts or path.name == "tasks.py":
                continue
            for node in _function_local_imports(ast.parse(path.read_text())):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if (module or "").rpartition(".")[2] == "tasks":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_an_unexplained_local_import_is_caught() -> None:
    source = "def f():\n    # local: why\n    import a\n    import b\n\n\ndef g():\n    import c\n"
    lines = source.splitlines()
    nodes = _function_local_imports(ast.parse(source))
    assert [_explained(lines, node) for node in nodes] == [True, True, False]
