"""MkDocs hooks (mkdocs.yml `hooks:`): the reference pages are filled in from the code as
the site is built (see tests/support/reference.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # MkDocs loads a hook by its path, not as a package
    sys.path.insert(0, str(ROOT))

from tests.support.reference import fill  # noqa: E402


def on_page_markdown(markdown: str, **_: Any) -> str:
    return fill(markdown)
