"""The API docs at `<mount_prefix>/docs`: Swagger UI from the swagger-ui-py package's own
files, served by langstar itself, so the page works behind a firewall or offline.

The page shows the same document as /openapi.json, the project's own routes included,
and names only URLs under `<mount_prefix>/docs/`; like /ok, it needs no credentials.
"""

from __future__ import annotations

import re
from base64 import b64encode
from hashlib import sha256
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, Router, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from langstar.settings import HttpSettings
from langstar.system.openapi import PROJECT_OPENAPI, merged_openapi

DOCS = "/docs"
# Swagger UI's own files, under the docs: the page's scripts, stylesheet and icon.
ASSETS = "/assets"
PUBLIC: dict[str, Any] = {"exclude_from_auth": True}

# Only langstar's own files; of inline code, only what the page was sent with (by hash).
POLICY = (
    "default-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
INLINE = re.compile(rb"<(script|style)(?![^>]*\bsrc=)[^>]*>(.*?)</\1>", re.DOTALL)


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's files in the installed swagger-ui-py, found without
    importing the package (its import pulls in template and framework glue we do not use)."""
    spec = find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise RuntimeError("swagger-ui-py is not installed: langstar's API docs need it")
    return Path(spec.origin).parent / "static"


class LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI on langstar's own copy of its files, showing the document /openapi.json
    serves."""

    def __init__(self, docs: str) -> None:
        assets = docs + ASSETS
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            path=["/", "/swagger"],
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        project = request.app.state.get(PROJECT_OPENAPI)
        document = merged_openapi(openapi_schema, project) if project else openapi_schema
        return super().render(request, document)

    @staticmethod
    def render_json(request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        # Inlined in a <script>: a description holding "</script>" must not end it.
        encoded = OpenAPIRenderPlugin.render_json(request, openapi_schema)
        return encoded.replace(b"<", b"\\u003c")


def content_security_policy(page: bytes) -> str:
    """The page's policy, allowing its own inline script and style and nothing else inline."""
    allowed: dict[bytes, str] = {b"script": "", b"style": ""}
    for tag, code in INLINE.findall(page):
        allowed[tag] += f" 'sha256-{b64encode(sha256(code).digest()).decode()}'"
    inline = [f"script-src 'self'{allowed[b'script']}", f"style-src 'self'{allowed[b'style']}"]
    return "; ".join([*POLICY, *inline])


def with_policy(response: Response[Any]) -> Response[Any]:
    """A docs page with its policy; Swagger UI's files (file responses) pass as they are."""
    page = response.content if isinstance(response, Response) else None
    if isinstance(page, bytes) and response.media_type == MediaType.HTML:
        response.headers["Content-Security-Policy"] = content_security_policy(page)
    return response


def openapi_config(http: HttpSettings) -> OpenAPIConfig | None:
    """The docs under the API's prefix, where the start-up log says they are; none when
    `[http] disable_meta` turns them off."""
    if http.disable_meta:
        return None
    docs = http.mount_prefix + DOCS
    assets = create_static_files_router(ASSETS, [swagger_ui_files()], name="docs-assets")
    router = Router(
        docs,
        route_handlers=[assets],
        include_in_schema=False,
        opt=PUBLIC,
        after_request=with_policy,
    )
    return OpenAPIConfig(
        title="langstar",
        version=version("langstar"),
        description="A self-hostable server for LangGraph agents.",
        openapi_router=router,
        render_plugins=[LocalSwagger(docs)],
    )


@get("/swagger", include_in_schema=False, exclude_from_auth=True)
async def swagger(request: Request[Any, Any, Any]) -> Redirect:
    """The Swagger UI's usual address, sent to the docs under the same prefix."""
    prefix = request.url.path.rstrip("/").removesuffix("/swagger")
    return Redirect(path=prefix + DOCS, status_code=308)
