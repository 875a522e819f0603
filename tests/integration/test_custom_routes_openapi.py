"""A project's Starlette routes in /openapi.json: those its docstrings describe, as
Starlette's own SchemaGenerator (and so LangGraph's server) reads them."""

from __future__ import annotations

from pathlib import Path

from langstar.custom_routes import with_custom_routes
from tests.support.apps import MakeApp
from tests.support.asgi import asgi_client

STARLETTE_APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def described(request):
    """Greets whoever asks.
    ---
    summary: Say hello
    responses:
      200:
        description: A greeting.
    """
    return JSONResponse({"hello": "world"})


async def undescribed(request):
    return JSONResponse({})


app = Starlette(routes=[Route("/described", described), Route("/undescribed", undescribed)])
'''


async def test_a_starlette_route_its_docstring_describes_is_in_openapi_json(
    make_app: MakeApp, tmp_path: Path
) -> None:
    (tmp_path / "routes.py").write_text(STARLETTE_APP)
    api = make_app()
    with_custom_routes(api, f"{tmp_path / 'routes.py'}:app", authenticate=False)
    async with asgi_client(api) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["paths"]["/described"]["get"]["summary"] == "Say hello"
    assert "/undescribed" not in document["paths"]
    assert "post" in document["paths"]["/threads"]
    assert document["info"]["title"] == "langstar"
