"""Who is calling: every thread, run and memory a request creates belongs to them."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str = ANONYMOUS
    is_authenticated: bool = False
