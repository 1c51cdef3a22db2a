"""`parley.core` imports only the standard library, phonenumbers and itself (DESIGN.md, the house rules)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import parley.core

CORE = Path(parley.core.__file__).parent
ALLOWED_THIRD_PARTY = {"phonenumbers"}
MODULES = sorted(CORE.glob("*.py"))


def imported_modules(tree: ast.Module) -> list[str]:
    """Absolute names of everything a module imports, at any depth (function-level imports too)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.append(node.module or "")
            else:
                # Relative: resolve against parley.core (a module directly inside it).
                base = ["parley", "core"][: max(0, 3 - node.level)]
                names.append(".".join([*base, node.module] if node.module else base))
    return names


def is_allowed(name: str) -> bool:
    top = name.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or top in ALLOWED_THIRD_PARTY
        or name == "parley.core"
        or name.startswith("parley.core.")
    )


def test_core_has_modules_to_check() -> None:
    assert CORE.name == "core"
    assert any(path.name == "text.py" for path in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_core_module_imports_only_stdlib_phonenumbers_and_core(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    forbidden = [name for name in imported_modules(tree) if not is_allowed(name)]
    assert forbidden == [], f"{path.name} imports {forbidden}: core must stay pure"


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        pytest.param("import re", True, id="stdlib"),
        pytest.param("from decimal import Decimal", True, id="stdlib-from"),
        pytest.param("import phonenumbers.util", True, id="phonenumbers"),
        pytest.param("from parley.core.text import split", True, id="core"),
        pytest.param("from . import text", True, id="relative-core"),
        pytest.param("from .text import split", True, id="relative-core-module"),
        pytest.param("from parley.store import db", False, id="store"),
        pytest.param("from .. import settings", False, id="relative-parent"),
        pytest.param("from ..store import db", False, id="relative-store"),
        pytest.param("import httpx", False, id="third-party"),
        pytest.param("def f():\n    import sqlalchemy", False, id="inside-a-function"),
    ],
)
def test_the_purity_check_tells_allowed_from_forbidden(source: str, allowed: bool) -> None:
    names = imported_modules(ast.parse(source))
    assert all(is_allowed(n) for n in names) is allowed
