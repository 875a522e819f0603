"""Header name patterns, as `langgraph.json`'s `http.configurable_headers` and
`http.logging_headers` write them: a name in which `*` stands for any run of characters,
matched without regard to case. Only `*` is special, as on LangGraph's server, so a pattern
never becomes a costly regular expression."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence


class HeaderPatterns:
    """The header names an include pattern matches and no exclude pattern does (none
    without an include pattern), less the `never` names whatever the patterns say."""

    def __init__(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        never: frozenset[str] = frozenset(),
    ) -> None:
        self._include = [_compiled(p) for p in include]
        self._exclude = [_compiled(p) for p in exclude]
        self._never = never
        self.matches = functools.lru_cache(maxsize=512)(self._matches)

    def __bool__(self) -> bool:
        """Whether any name can match at all."""
        return bool(self._include)

    def _matches(self, name: str) -> bool:
        name = name.lower()
        if name in self._never or any(p.fullmatch(name) for p in self._exclude):
            return False
        return any(p.fullmatch(name) for p in self._include)


def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.lower().split("*")))
