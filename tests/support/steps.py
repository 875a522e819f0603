"""A graph of several slow steps that keeps a ledger of every step it starts, per thread:
the file `$STEPS_LEDGER` gets one line `<thread> <step>` as each step begins (appended, so
several server processes may share it). A test counts how often each step ran. With
`context={"crash": 1}` its first step kills its own server."""

from __future__ import annotations

import asyncio
import operator
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

STEPS = 6


class State(TypedDict, total=False):
    done: Annotated[list[str], operator.add]


def _note(line: str) -> None:
    with open(os.environ["STEPS_LEDGER"], "a") as ledger:
        ledger.write(line)


def _step(name: str) -> Any:
    async def step(
        state: State, config: RunnableConfig, runtime: Runtime[dict[str, Any]]
    ) -> dict[str, Any]:
        thread = (config.get("configurable") or {}).get("thread_id")
        _note(f"{thread} {name}\n")
        if (runtime.context or {}).get("crash"):  # takes its server down, as an OOM kill does
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(float((runtime.context or {}).get("delay", 0.5)))
        return {"done": [name]}

    return step


NAMES = [f"step{n}" for n in range(1, STEPS + 1)]
builder: StateGraph[Any, Any, Any, Any] = StateGraph(State)
for index, name in enumerate(NAMES):
    builder.add_node(name, _step(name))
    builder.add_edge(START if index == 0 else NAMES[index - 1], name)
builder.add_edge(NAMES[-1], END)
graph = builder.compile()


def runs_of_each_step(ledger: Path) -> dict[str, Counter[str]]:
    """How often each step started, per thread."""
    counts: dict[str, Counter[str]] = {}
    for line in ledger.read_text().splitlines():
        thread, name = line.split()
        counts.setdefault(thread, Counter())[name] += 1
    return counts
