"""Read an SSE body the way a client does."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Event:
    event: str
    data: Any
    id: str | None


def parse(body: str) -> list[Event]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            events.append(Event(fields["event"], json.loads(fields["data"]), fields.get("id")))
    return events


def data_lines(lines: Iterable[str]) -> Iterator[Any]:
    """The decoded `data:` of each event, as the lines of a live stream arrive."""
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line[6:])
