"""A small embedding function of the project's own: letter counts, normalised."""

from __future__ import annotations

import math

DIMS = 26


async def embed(texts: list[str]) -> list[list[float]]:
    vectors = []
    for text in texts:
        counts = [0.0] * DIMS
        for letter in text.lower():
            if "a" <= letter <= "z":
                counts[ord(letter) - ord("a")] += 1
        norm = math.sqrt(sum(c * c for c in counts)) or 1.0
        vectors.append([c / norm for c in counts])
    return vectors
