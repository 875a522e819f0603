"""Rules about where code lives that no linter checks: short functions, one lifecycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "langstar"
LONGEST_FUNCTION = 60
# An UPDATE of runs or threads that sets a status, or an INSERT that names one.
STATUS_WRITE = re.compile(
    r"UPDATE\s+(runs|threads)\b[^;]*?\bSET\b[^;]*?\bstatus\s*="
    r"|INSERT\s+INTO\s+(runs|threads)\s*\([^)]*\bstatus\b",
    re.IGNORECASE | re.DOTALL,
)


def modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(SRC.rglob("*.py"))]


def test_no_function_is_longer_than_sixty_lines() -> None:
    long = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length})")
    assert long == []


def sql_texts(tree: ast.Module) -> list[str]:
    """The text of every string or f-string, each with the literals it is joined from."""
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            texts.append("".join(v.value for v in node.values if isinstance(v, ast.Constant)))
    return texts


def test_every_run_and_thread_status_write_is_in_the_lifecycle_module() -> None:
    writers = {
        str(path.relative_to(SRC))
        for path, tree in modules()
        if any(STATUS_WRITE.search(text) for text in sql_texts(tree))
    }
    assert writers == {"lifecycle.py"}


def test_every_provider_and_service_says_what_it_is() -> None:
    silent = [
        f"{path.relative_to(SRC)}:{node.name}"
        for path, tree in modules()
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and node.name.endswith(("Provider", "Service"))
        and not ast.get_docstring(node)
    ]
    assert silent == []
