"""Issue 16 item 6, measured: the second payment provider (YooKassa) and the second CRM
(Bitrix24) plug in without the core naming them. The core is `platform/franchise_platform` and
`tenants`; their code (names, attributes, imports and string values, docstrings and comments
left out) never names either vendor. Configuration is the exception: `settings/` reads each
vendor's options from the environment (`BILLING_PROVIDER_OPTIONS`, `CRM_CONNECTOR_OPTIONS`), and
the vendor's own packages hold everything else, behind `billing_providers/registry.py` and
`crm_connectors/registry.py` (one entry each)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = [ROOT / "platform" / "franchise_platform", ROOT / "tenants"]
CONFIGURATION = ROOT / "platform" / "franchise_platform" / "settings"


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _words(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _docstrings(tree)
    words: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            words.append((node.lineno, node.attr))
        elif isinstance(node, ast.alias):
            words.append((getattr(node, "lineno", 0), node.name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            words.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            words.append((node.lineno, node.value))
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            words.append((node.lineno, node.name))
    return words


def _core_files() -> list[Path]:
    return [
        path
        for root in CORE
        for path in sorted(root.rglob("*.py"))
        if "migrations" not in path.parts and CONFIGURATION not in path.parents
    ]


@pytest.mark.parametrize("vendor", ["yookassa", "bitrix"])
def test_the_core_names_no_second_vendor(vendor):
    named = [
        f"{path.relative_to(ROOT)}:{line}: {word!r}"
        for path in _core_files()
        for line, word in _words(path)
        if vendor in word.lower()
    ]
    assert not named, "\n".join(named)


def test_the_check_sees_the_first_vendors_legacy_names():
    # The contract's Robokassa paths live in the core (payments/urls.py): the check reads them,
    # so an empty answer above is a finding, not a blind spot.
    words = [w for path in _core_files() for _line, w in _words(path)]
    assert any("robokassa" in w.lower() for w in words)
