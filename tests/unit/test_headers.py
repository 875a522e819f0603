"""Header name patterns: `*` is the only wildcard, case does not count, `never` wins."""

from __future__ import annotations

from langstar.headers import HeaderPatterns


def test_star_is_the_only_wildcard_as_on_langgraphs_server() -> None:
    patterns = HeaderPatterns(["x-trace-*", "x-[id]?"])
    assert patterns.matches("X-Trace-Id")
    assert patterns.matches("x-[id]?")  # brackets and `?` are plain characters
    assert not patterns.matches("x-i")
    assert not patterns.matches("y-trace-id")


def test_an_exclude_pattern_and_a_never_name_win_over_an_include() -> None:
    patterns = HeaderPatterns(["*"], ["x-secret-*"], never=frozenset({"authorization"}))
    assert patterns.matches("x-tenant")
    assert not patterns.matches("X-Secret-Key")
    assert not patterns.matches("Authorization")


def test_without_an_include_pattern_nothing_matches() -> None:
    patterns = HeaderPatterns([], ["x-*"])
    assert not patterns
    assert not patterns.matches("x-tenant")
