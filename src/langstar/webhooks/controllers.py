"""The route showing what became of a run's webhook."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import get
from litestar.params import FromPath

from langstar.errors import parse_uuid
from langstar.webhooks.outbox import Delivery
from langstar.webhooks.service import WebhookService


@get("/runs/{run_id:str}/webhook", tags=["Runs"], summary="The delivery of a run's webhook")
async def run_webhook(run_id: FromPath[str], webhooks: FromDishka[WebhookService]) -> Delivery:
    return await webhooks.delivery(parse_uuid(run_id, "run_id"))
