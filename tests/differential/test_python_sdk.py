"""The Python SDK's random sequences against `langgraph dev` and langstar, compared.

In CI the sequences come from a fixed seed. For a longer run:

    DIFFERENTIAL_EXAMPLES=100 uv run pytest tests/differential -s

prints how many operations and observations were compared. Set
`DIFFERENTIAL_RANDOM=1` for new sequences each run, and
`DIFFERENTIAL_SHRINK=1` to shrink a failing sequence to its shortest form, and
`DIFFERENTIAL_SURVEY=1` to list every difference instead of stopping at the first.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from langgraph_sdk.client import SyncLangGraphClient

from tests.differential.machine import Differential, Tally

EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES", "5"))
STEPS = int(os.environ.get("DIFFERENTIAL_STEPS", "12"))


def harness(examples: int) -> settings:
    phases = [Phase.explicit, Phase.generate]
    if os.environ.get("DIFFERENTIAL_SHRINK"):
        phases.append(Phase.shrink)
    return settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=not os.environ.get("DIFFERENTIAL_RANDOM"),
        phases=phases,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def client(url: str, transport: httpx.BaseTransport | None = None) -> SyncLangGraphClient:
    """The SDK's own sync client, on an httpx client whose transport a test may wrap."""
    http = httpx.Client(
        base_url=url,
        timeout=httpx.Timeout(60, connect=5),
        transport=transport or httpx.HTTPTransport(retries=5),
    )
    return SyncLangGraphClient(http)


def run(reference: str, langstar: SyncLangGraphClient, examples: int) -> Tally:
    Differential.clients = (client(reference), langstar)
    Differential.tally = Tally()
    Differential.survey = bool(os.environ.get("DIFFERENTIAL_SURVEY"))
    try:
        run_state_machine_as_test(Differential, settings=harness(examples))
    finally:
        print(Differential.tally.line())
        for mismatch in dict.fromkeys(m.split(":")[0] for m in Differential.tally.mismatches):
            print("  differs:", mismatch)
        if Differential.survey:
            for mismatch in Differential.tally.mismatches:
                print(mismatch)
    return Differential.tally


# Both servers' start, then up to twenty seconds a sequence on a busy machine.
@pytest.mark.timeout(120 + 20 * EXAMPLES)
def test_langstar_answers_random_sequences_like_langgraph_dev(
    reference_url: str, langstar_url: str
) -> None:
    tally = run(reference_url, client(langstar_url), EXAMPLES)
    assert tally.observations > EXAMPLES * STEPS


class PlantedDivergence(httpx.BaseTransport):
    """langstar's answers with one change planted: a thread says it is `busy` when idle."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or not request.url.path.startswith("/threads/"):
            return response
        response.read()
        body = response.content
        if request.url.path.count("/") == 2 and b'"status":"idle"' in body.replace(b" ", b""):
            thread = json.loads(body)
            thread["status"] = "busy"
            body = json.dumps(thread).encode()
        return httpx.Response(
            response.status_code, headers={"content-type": "application/json"}, content=body
        )


@pytest.mark.timeout(120 + 20 * EXAMPLES)
def test_a_planted_divergence_fails_the_harness(reference_url: str, langstar_url: str) -> None:
    with pytest.raises(AssertionError, match=r"thread status|get thread") as failure:
        run(reference_url, client(langstar_url, PlantedDivergence()), EXAMPLES)
    assert "'busy'" in str(failure.value)
