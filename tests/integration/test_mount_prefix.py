"""`mount_prefix` serves the API under a path; /ok stays at the root; the SDK follows."""

from __future__ import annotations

import msgspec
import pytest

from langstar.settings import HttpSettings, Settings, SettingsError, load_settings
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client
from tests.support.sdk import sdk_for


async def test_the_api_answers_under_its_prefix(settings: Settings, make_app: MakeApp) -> None:
    app = make_app(msgspec.structs.replace(settings, http=HttpSettings(mount_prefix="/my-api")))
    async with asgi_client(app) as client:
        assert (await client.get("/ok")).status_code == 200
        assert (await client.post("/threads", json={})).status_code == 404
        made = await client.post("/my-api/threads", json={})
        assert made.status_code == 200
        # The SDK over the same in-process app, its base URL under the prefix.
        sdk = sdk_for(app, "http://langstar.test/my-api")
        thread = await sdk.threads.create()
        answer = await sdk.runs.wait(thread["thread_id"], "agent", input={"messages": [
            {"role": "user", "content": "My name is Ada."}]})  # fmt: skip
        assert isinstance(answer, dict)
        assert "My name is Ada." in answer["messages"][-1]["content"]


@pytest.mark.parametrize("prefix", ["api", "/api/"])
def test_a_prefix_must_be_a_path_not_ending_in_a_slash(prefix: str) -> None:
    with pytest.raises(SettingsError, match=r"http\.mount_prefix"):
        load_settings(env={"LANGSTAR_HTTP__MOUNT_PREFIX": prefix})
