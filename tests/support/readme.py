"""The documentation's committed generated tables: the deliberate differences from
`langgraph dev` (docs/differences.md), from tests/differential/differences.py, and the
langgraph.json keys langstar refuses or ignores (docs/tutorial.md), from
src/langstar/project.py. The settings, CLI and HTTP API reference pages are made at build
time instead (tests/support/reference.py).

`uv run python -m tests.support.readme` rewrites both tables in place.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DIFFERENCES = ("<!-- differences:begin -->", "<!-- differences:end -->")
PROJECT_KEYS = ("<!-- langgraph-json-keys:begin -->", "<!-- langgraph-json-keys:end -->")
# Where each table lives.
PAGES = {DIFFERENCES: DOCS / "differences.md", PROJECT_KEYS: DOCS / "tutorial.md"}


def differences_table() -> str:
    from tests.differential.differences import DIFFERENCES as LISTED

    rows = ["| request | `langgraph dev` | langstar | why |", "|---|---|---|---|"]
    for d in LISTED:
        cells = (d.request, d.reference, d.langstar, d.why)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def project_keys_table() -> str:
    """`REFUSED` and `IGNORED`, one row per reason, keys sorted."""
    from langstar.project import IGNORED, REFUSED

    rows = ["| langgraph.json key | langstar | why |", "|---|---|---|"]
    for verdict, table in (("refused: start-up stops", REFUSED), ("ignored, logged", IGNORED)):
        by_reason: dict[str, list[str]] = {}
        for form in sorted(table):
            by_reason.setdefault(table[form], []).append(form)
        for why, forms in by_reason.items():
            named = ", ".join(_form(form) for form in forms)
            rows.append(f"| {named} | {verdict} | " + why.replace("|", "\\|") + " |")
    return "\n".join(rows)


def _form(form: str) -> str:
    """`key` and, after it, the values concerned: `http.app` (a JavaScript file)."""
    key, _, values = form.partition(" (")
    return f"`{key}` ({values}" if values else f"`{key}`"


def page_table(markers: tuple[str, str]) -> str:
    text = PAGES[markers].read_text()
    return text.split(markers[0], 1)[1].split(markers[1], 1)[0].strip()


def rewrite() -> None:
    tables = ((DIFFERENCES, differences_table()), (PROJECT_KEYS, project_keys_table()))
    for (begin, end), table in tables:
        path = PAGES[(begin, end)]
        head, rest = path.read_text().split(begin, 1)
        tail = rest.split(end, 1)[1]
        path.write_text(f"{head}{begin}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    rewrite()
