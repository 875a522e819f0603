"""The README's configuration table, generated from config/langstar.toml.

`uv run python -m tests.support.readme` rewrites the table in place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- config-table:begin -->", "<!-- config-table:end -->"


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


def readme_table() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def rewrite() -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{config_table()}\n{END}{tail}")


if __name__ == "__main__":
    rewrite()
