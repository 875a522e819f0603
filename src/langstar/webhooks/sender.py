"""Webhook delivery: the outbox sent by every server, retried with backoff until it lands.

A delivery is POSTed as JSON to the address its URL was checked to resolve to (the
policy again, at send time). A 2xx answer delivers it; a timeout, a network error, 408,
429 or 5xx is tried again after an exponential backoff with jitter, until
`max_attempts` or `max_age_minutes`; any other answer gives it up at once. With a
`secret`, each attempt is signed per Standard Webhooks: `webhook-id` (the delivery,
the same on every attempt), `webhook-timestamp` and `webhook-signature` (HMAC-SHA256).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from importlib.metadata import version

import httpx
from standardwebhooks import Webhook

from langstar import metrics
from langstar.db.json_encryption import RUN_FIELDS, JsonCipher
from langstar.db.pool import Pool
from langstar.periodic import Periodic
from langstar.serde import dumps
from langstar.settings import WebhookSettings
from langstar.webhooks import outbox
from langstar.webhooks.outbox import Claimed
from langstar.webhooks.policy import Target, WebhookPolicy, WebhookRefusedError

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429})
# Deliveries sent at once by one server.
CONCURRENT_SENDS = 16


class WebhookSender:
    """Every `poll_seconds`, sends the due deliveries of the outbox (any server's)."""

    def __init__(
        self,
        pool: Pool,
        settings: WebhookSettings,
        policy: WebhookPolicy,
        cipher: JsonCipher | None = None,
    ) -> None:
        self._cipher = cipher or JsonCipher()  # opens what the project's JSON handlers sealed
        self._pool = pool
        self._settings = settings
        self._policy = policy
        self._signer = Webhook(settings.secret) if settings.secret else None
        self._client = httpx.AsyncClient(
            timeout=settings.timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": f"langstar/{version('langstar')}"},
        )
        self._slots = asyncio.Semaphore(CONCURRENT_SENDS)
        self._loop = Periodic(self._send_step, settings.poll_seconds, "webhook sender")

    def open(self) -> None:
        self._loop.open()

    async def _send_step(self) -> bool:
        return await self.send_due() >= self._settings.batch_size  # a full batch: look again

    async def send_due(self) -> int:
        """Send what is due now; returns how many deliveries were attempted."""
        hold = self._settings.timeout_seconds + 30.0
        claimed = await outbox.claim_due(self._pool, self._settings.batch_size, hold)
        await asyncio.gather(*(self._attempt(item) for item in claimed))
        return len(claimed)

    async def _attempt(self, item: Claimed) -> None:
        async with self._slots:
            status, error = await self._send(item)
        if status is not None and 200 <= status < 300:
            await outbox.delivered(self._pool, item.delivery_id, status)
            metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
            return
        retry_in = self._retry_in(item, status, error)
        metrics.WEBHOOK_DELIVERIES.labels("failed" if retry_in is None else "retried").inc()
        await outbox.failed(
            self._pool, item.delivery_id, status=status, error=error, retry_in=retry_in
        )
        if retry_in is None:
            log.warning(
                "webhook for run %s given up after %d attempts: %s",
                item.payload.get("run_id"), item.attempt, error,
            )  # fmt: skip

    async def _send(self, item: Claimed) -> tuple[int | None, str]:
        """The receiver's status (None when none answered) and what went wrong, if anything."""
        try:
            target = await self._policy.target(item.url)
        except WebhookRefusedError as exc:
            return None, f"refused: {exc}"
        except (OSError, TimeoutError) as exc:
            return None, f"could not resolve: {exc or type(exc).__name__}"
        now = datetime.now(UTC)
        payload = await self._cipher.open_fields("run", dict(item.payload), RUN_FIELDS)
        payload["values"] = await self._cipher.open("thread", "values", payload.get("values"))
        body = dumps({**payload, "webhook_sent_at": now.isoformat()}).decode()
        headers = {"content-type": "application/json"}
        if traceparent := (item.payload.get("kwargs") or {}).get("traceparent"):
            headers["traceparent"] = traceparent  # the receiver's work joins the run's trace
        if self._signer is not None:
            msg_id = f"msg_{item.delivery_id.hex}"
            headers |= {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._signer.sign(msg_id, now, body),
            }
        try:
            response = await self._post(target, body, headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return response.status_code, ""
        return response.status_code, f"answered {response.status_code}"

    async def _post(self, target: Target, body: str, headers: dict[str, str]) -> httpx.Response:
        """POST to the checked address, naming the URL's host (and, over TLS, verifying
        its certificate), so a second DNS answer cannot redirect the request."""
        url = httpx.URL(target.url)
        pinned = url.copy_with(host=target.address.compressed)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        return await self._client.post(
            pinned, content=body, headers={**headers, "host": url.netloc.decode()},
            extensions=extensions,
        )  # fmt: skip

    def _retry_in(self, item: Claimed, status: int | None, error: str) -> float | None:
        """Seconds until the next attempt; None when this was the last."""
        if error.startswith("refused:"):
            return None
        if status is not None and status < 500 and status not in RETRIED_STATUSES:
            return None
        age = (datetime.now(UTC) - item.created_at).total_seconds()
        if item.attempt >= self._settings.max_attempts:
            return None
        delay = min(
            self._settings.retry_max_seconds,
            self._settings.retry_min_seconds * 2 ** (item.attempt - 1),
        )
        delay = random.uniform(delay / 2, delay)  # jitter: receivers coming back are not stormed
        if age + delay > self._settings.max_age_minutes * 60:
            return None
        return delay

    async def aclose(self) -> None:
        await self._loop.aclose(grace=self._settings.timeout_seconds + 5)
        await self._client.aclose()
