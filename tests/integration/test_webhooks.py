"""Webhooks: a run's outcome reaches a real local receiver, signed, retried and durable.

The receiver is a real HTTP server on a loopback port, so these apps allow private
addresses (`webhooks.allow_private`), as local development does; the policy's refusals
are tested with it off.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
from dishka import Provider
from litestar import Litestar
from standardwebhooks import Webhook

from langstar import metrics
from langstar.settings import CronSettings, HttpSettings, Settings, WebhookSettings
from langstar.webhooks.policy import WebhookPolicy, WebhookRefusedError
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.clock import FakeClock, FakeClockProvider
from tests.support.fakes import FakeModelProvider, RecordingChatModel
from tests.support.graphs import TEST_GRAPHS
from tests.support.receiver import Receiver, webhook_receiver
from tests.support.sdk import eventually, sdk_for

SECRET = "whsec_" + base64.b64encode(b"a secret of thirty-two bytes!!!!").decode()
HELLO = {"messages": [{"role": "user", "content": "hello"}]}


def webhook_settings(**changes: Any) -> WebhookSettings:
    fast = {"allow_private": True, "poll_seconds": 0.02, "retry_min_seconds": 0.05,
            "retry_max_seconds": 0.2, "timeout_seconds": 2.0}  # fmt: skip
    return WebhookSettings(**{**fast, **changes})


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings, graphs=TEST_GRAPHS, webhooks=webhook_settings(secret=SECRET)
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


async def delivery(client: httpx.AsyncClient, run_id: str, status: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        answer = await client.get(f"/runs/{run_id}/webhook")
        return (
            answer.json()
            if answer.status_code == 200 and answer.json()["status"] == status
            else None
        )

    found: dict[str, Any] | None = await eventually(done)
    assert found is not None, (await client.get(f"/runs/{run_id}/webhook")).text
    return found


async def test_a_finished_runs_webhook_arrives_signed_with_its_outcome(
    app: Litestar, receiver: Receiver
) -> None:
    async with asgi_client(app) as client:
        sdk = sdk_for(app)
        thread = await sdk.threads.create()
        run = await sdk.runs.create(thread["thread_id"], "agent", input=HELLO, webhook=receiver.url)
        assert run["kwargs"]["webhook"] == receiver.url
        shown = await delivery(client, run["run_id"], "delivered")
        assert shown["attempts"] == 1
        assert shown["last_status"] == 200
        assert shown["url"] == receiver.url
    [sent] = receiver.received
    payload = Webhook(SECRET).verify(sent.body, sent.headers)
    assert payload["run_id"] == run["run_id"]
    assert payload["thread_id"] == thread["thread_id"]
    assert payload["status"] == "success"
    assert payload["error"] is None
    assert payload["values"]["messages"][-1]["content"] == "echo: hello"
    assert payload["kwargs"]["webhook"] == receiver.url
    started = datetime.fromisoformat(payload["run_started_at"])
    ended = datetime.fromisoformat(payload["run_ended_at"])
    sent_at = datetime.fromisoformat(payload["webhook_sent_at"])
    assert datetime.fromisoformat(run["created_at"]) <= started <= ended <= sent_at
    assert sent.headers["webhook-id"].startswith("msg_")
    # A forged body does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(sent.body.replace("success", "error"), sent.headers)


async def test_failed_and_stateless_runs_send_theirs_too(app: Litestar, receiver: Receiver) -> None:
    async with asgi_client(app) as client:
        sdk = sdk_for(app)
        thread = await sdk.threads.create()
        failed = await sdk.runs.create(thread["thread_id"], "failing", input=HELLO,
                                       webhook=receiver.url)  # fmt: skip
        stateless = await sdk.runs.wait(None, "agent", input=HELLO, webhook=receiver.url)
        assert stateless["messages"][-1]["content"] == "echo: hello"
        await delivery(client, failed["run_id"], "delivered")
        assert await eventually(lambda: len(receiver.received) == 2)
    by_status = {r.json["status"]: r.json for r in receiver.received}
    assert by_status["error"]["error"]["error"] == "ValueError"
    assert "always fails" in by_status["error"]["error"]["message"]
    # The stateless run's thread is gone; its webhook still carried the final values.
    assert by_status["success"]["values"]["messages"][-1]["content"] == "echo: hello"


async def test_a_receiver_failing_is_retried_and_a_refusal_is_final(
    app: Litestar, receiver: Receiver
) -> None:
    receiver.answers[:] = [503, 500, 200, 400]
    counted = {o: metrics.WEBHOOK_DELIVERIES.labels(o)._value.get()
               for o in ("delivered", "retried", "failed")}  # fmt: skip
    async with asgi_client(app) as client:
        sdk = sdk_for(app)
        thread = await sdk.threads.create()
        run = await sdk.runs.create(thread["thread_id"], "agent", input=HELLO, webhook=receiver.url)
        shown = await delivery(client, run["run_id"], "delivered")
        assert shown["attempts"] == 3
        refused = await sdk.runs.create(thread["thread_id"], "agent", input=HELLO,
                                        webhook=receiver.url)  # fmt: skip
        given_up = await delivery(client, refused["run_id"], "failed")
        assert given_up["attempts"] == 1
        assert given_up["last_status"] == 400
    now = {o: metrics.WEBHOOK_DELIVERIES.labels(o)._value.get() - counted[o] for o in counted}
    assert now == {"delivered": 1, "retried": 2, "failed": 1}
    ids = [r.headers["webhook-id"] for r in receiver.received[:3]]
    assert len(set(ids)) == 1  # one message, attempted three times


async def test_a_delivery_missed_while_the_receiver_was_down_arrives_after_a_restart(
    settings: Settings, make_app: MakeApp
) -> None:
    with webhook_receiver() as probe:
        url = probe.url  # a port now free: nothing listens on it while the receiver is down
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    patient = msgspec.structs.replace(settings, webhooks=webhook_settings(retry_min_seconds=0.3))
    app = make_app(patient)
    async with asgi_client(app) as client:
        sdk = sdk_for(app)
        thread = await sdk.threads.create()
        run = await sdk.runs.create(thread["thread_id"], "agent", input=HELLO, webhook=url)

        async def tried() -> bool:
            shown = (await client.get(f"/runs/{run['run_id']}/webhook")).json()
            return shown.get("attempts", 0) >= 2 and shown["status"] == "pending"

        assert await eventually(tried)
        shown = (await client.get(f"/runs/{run['run_id']}/webhook")).json()
        assert shown["last_error"]
    # The server is down; the receiver comes back; a new server process starts.
    with webhook_receiver(port=port) as receiver:
        again = make_app(patient)
        async with asgi_client(again) as client:
            arrived = await delivery(client, run["run_id"], "delivered")
            assert arrived["attempts"] >= 3
        [sent] = receiver.received
        assert sent.json["run_id"] == run["run_id"]
        assert sent.json["status"] == "success"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://169.254.10.10/hook", "link-local"),
        ("http://0.0.0.0/hook", "reserved"),
        ("ftp://example.com/hook", "url"),
        ("/relative/hook", "url"),
        ("http://user:pw@example.com/hook", "url"),
    ],
)
async def test_webhooks_to_private_or_odd_addresses_are_refused(
    settings: Settings, make_app: MakeApp, url: str, rule: str
) -> None:
    strict = msgspec.structs.replace(settings, webhooks=WebhookSettings())
    app = make_app(strict)
    async with asgi_client(app) as client:
        thread = (await client.post("/threads", json={})).json()
        body = {"assistant_id": "agent", "input": HELLO, "webhook": url}
        answer = await client.post(f"/threads/{thread['thread_id']}/runs", json=body)
        assert answer.status_code == 422
        assert f"(rule: {rule})" in answer.json()["detail"]
        cron = await client.post("/runs/crons", json={**body, "schedule": "* * * * *"})
        assert cron.status_code == 422
        assert (await client.get(f"/threads/{thread['thread_id']}/runs")).json() == []


async def test_metadata_and_link_local_stay_refused_when_private_is_allowed() -> None:
    policy = WebhookPolicy(WebhookSettings(allow_private=True))
    await policy.check("http://127.0.0.1:9/hook")
    await policy.check("http://10.0.0.1/hook")
    for url in (
        "http://169.254.169.254/",
        "http://metadata.google.internal/",
        "http://169.254.1.1/",
    ):
        with pytest.raises(WebhookRefusedError):
            await policy.check(url)


async def test_https_only_and_allowed_domains() -> None:
    domains = ["*.example.com", "hooks.test"]
    policy = WebhookPolicy(WebhookSettings(require_https=True, allowed_domains=domains))
    with pytest.raises(WebhookRefusedError, match="rule: https"):
        await policy.check("http://a.example.com/hook")
    with pytest.raises(WebhookRefusedError, match="rule: allowed_domains"):
        await policy.check("https://example.org/hook")
    with pytest.raises(WebhookRefusedError, match="rule: allowed_domains"):
        await policy.check("https://evil-example.com/hook")
    for url in ("https://a.example.com/hook", "https://b.a.example.com/x", "https://hooks.test/"):
        policy._parse(url)  # form and domain only: these names do not resolve here


async def test_the_send_time_check_refuses_what_the_policy_no_longer_allows(
    settings: Settings, make_app: MakeApp, receiver: Receiver
) -> None:
    """A URL accepted earlier is checked again, resolved, before every attempt."""
    off = msgspec.structs.replace(settings, http=HttpSettings(disable_webhooks=False),
                                  webhooks=webhook_settings(poll_seconds=3600))  # fmt: skip
    app = make_app(off)
    async with asgi_client(app) as client:
        sdk = sdk_for(app)
        thread = await sdk.threads.create()
        run = await sdk.runs.create(thread["thread_id"], "agent", input=HELLO, webhook=receiver.url)
        await sdk.runs.join(thread["thread_id"], run["run_id"])
    strict = msgspec.structs.replace(settings, webhooks=WebhookSettings(poll_seconds=0.02))
    async with asgi_client(make_app(strict)) as client:
        given_up = await delivery(client, run["run_id"], "failed")
        assert "rule: loopback" in given_up["last_error"]
    assert receiver.received == []


async def test_turned_off_webhooks_are_refused_not_dropped(
    settings: Settings, make_app: MakeApp, receiver: Receiver
) -> None:
    off = msgspec.structs.replace(settings, http=HttpSettings(disable_webhooks=True))
    async with asgi_client(make_app(off)) as client:
        thread = (await client.post("/threads", json={})).json()
        body = {"assistant_id": "agent", "input": HELLO, "webhook": receiver.url}
        answer = await client.post(f"/threads/{thread['thread_id']}/runs", json=body)
        assert answer.status_code == 422
        assert "disable_webhooks" in answer.text
        assert (await client.get(f"/runs/{uuid.uuid4()}/webhook")).status_code == 404


async def test_another_users_run_webhook_is_not_shown(
    settings: Settings, make_app: MakeApp, receiver: Receiver
) -> None:
    from tests.support.auth import HeaderAuthProvider

    app = make_app(settings, HeaderAuthProvider())
    async with asgi_client(app) as client:
        ada = {"x-user": "ada"}
        thread = (await client.post("/threads", json={}, headers=ada)).json()
        body = {"assistant_id": "agent", "input": HELLO, "webhook": receiver.url}
        run = (await client.post(f"/threads/{thread['thread_id']}/runs", json=body,
                                 headers=ada)).json()  # fmt: skip
        path = f"/runs/{run['run_id']}/webhook"
        assert await eventually(lambda: _status(client, path, ada, 200))
        assert (await client.get(path, headers={"x-user": "bob"})).status_code == 404
        assert (await client.get(path)).status_code == 401


async def _status(client: httpx.AsyncClient, path: str, headers: dict[str, str], want: int) -> bool:
    return (await client.get(path, headers=headers)).status_code == want


async def test_a_crons_webhook_passes_to_its_runs(
    settings: Settings, make_app: MakeApp, receiver: Receiver, chat_model: RecordingChatModel,
    migrated_url: str,
) -> None:  # fmt: skip
    clock = FakeClock(datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC))
    fast = msgspec.structs.replace(settings, crons=CronSettings(poll_seconds=0.02))
    app = make_app(fast, FakeClockProvider(clock))
    try:
        async with asgi_client(app):
            sdk = sdk_for(app)
            thread = await sdk.threads.create()
            cron = await sdk.crons.create_for_thread(
                thread["thread_id"], "agent", schedule="* * * * *", input=HELLO,
                webhook=receiver.url,
            )  # fmt: skip
            assert cron["payload"]["webhook"] == receiver.url
            clock.advance(minutes=1)
            assert await eventually(lambda: receiver.received)
    finally:
        with psycopg.connect(migrated_url, autocommit=True) as conn:
            conn.execute("DELETE FROM crons")
    payload = receiver.received[0].json
    assert payload["kwargs"]["config"]["configurable"]["cron_id"] == cron["cron_id"]
    assert payload["status"] == "success"


def test_a_secret_that_is_not_a_standard_webhooks_secret_stops_startup() -> None:
    from langstar.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"webhooks\.secret"):
        load_settings(env={"LANGSTAR_WEBHOOKS__SECRET": "not base64 !!"})


@pytest.fixture
def di_overrides(chat_model: RecordingChatModel) -> list[Provider]:
    return [FakeModelProvider(chat_model)]
