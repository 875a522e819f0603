"""The README's generated tables: the configuration, from config/langstar.toml, the
deliberate differences from `langgraph dev`, from tests/differential/differences.py, and
the langgraph.json keys langstar refuses or ignores, from src/langstar/project.py.

`uv run python -m tests.support.readme` rewrites both in place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- config-table:begin -->", "<!-- config-table:end -->"
DIFFERENCES = ("<!-- differences:begin -->", "<!-- differences:end -->")
PROJECT_KEYS = ("<!-- langgraph-json-keys:begin -->", "<!-- langgraph-json-keys:end -->")


def config_table() -> str:
    rows = ["| key | environment variable | default | meaning |", "|---|---|---|---|"]
    section, comment = "", []
    for line in (ROOT / "config" / "langstar.toml").read_text().splitlines():
        if line.startswith("# "):
            comment.append(line[2:])
        elif header := re.fullmatch(r"\[(\w+)\]", line):
            section, comment = header[1], []
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            name = f"{section}.{key}" if section else key
            env = (
                f"LANGSTAR_{section.upper()}__{key.upper()}"
                if section
                else f"LANGSTAR_{key.upper()}"
            )
            if name == "database.url":
                env = "DATABASE_URL"
            meaning = " ".join(comment).replace("|", "\\|")
            default = json.dumps(json.loads(value)) if value.startswith("[") else value
            rows.append(f"| `{name}` | `{env}` | `{default}` | {meaning} |")
            comment = []
        elif not line.strip():
            comment = []
    return "\n".join(rows)


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


def readme_table(markers: tuple[str, str] = (BEGIN, END)) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(markers[0], 1)[1].split(markers[1], 1)[0].strip()


def rewrite() -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    tables = (
        ((BEGIN, END), config_table()),
        (DIFFERENCES, differences_table()),
        (PROJECT_KEYS, project_keys_table()),
    )
    for (begin, end), table in tables:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{begin}\n{table}\n{end}{tail}"
    path.write_text(text)


if __name__ == "__main__":
    rewrite()
