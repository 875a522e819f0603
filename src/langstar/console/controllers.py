"""Serves the console's static files at /ui, with a Content-Security-Policy of 'self' only.

The files are public (they hold no data); every API call the page makes carries the
caller's key, so the API's authentication still decides what the page may read.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Final

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

STATIC = files("langstar.console") / "static"

MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# Only the page's own files, no inline script or style, no eval, no framing.
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def static_file(name: str) -> Response[bytes]:
    """One of the console's files, by its plain name; anything else is not found."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    resource = STATIC / name
    if "/" in name or name.startswith(".") or suffix not in MEDIA_TYPES or not resource.is_file():
        raise NotFoundException(f"No console file {name!r}")
    return Response(resource.read_bytes(), media_type=MEDIA_TYPES[suffix], headers=HEADERS)


@get("/ui", exclude_from_auth=True, include_in_schema=False)
async def console_page(request: Request[Any, Any, Any]) -> Response[bytes] | Redirect:
    """The page lives at /ui and names its files `ui/<name>`, relative to where it is."""
    if request.scope.get("raw_path", b"").split(b"?")[0].endswith(b"/"):
        # Routing ignores the slash, relative links do not: send /ui/ to /ui, keeping
        # whatever prefix the page was reached under.
        return Redirect(path="../ui", status_code=308)
    return static_file("index.html")


@get("/ui/{name:str}", exclude_from_auth=True, include_in_schema=False)
async def console_file(name: FromPath[str]) -> Response[bytes]:
    return static_file(name)


console_handlers = [console_page, console_file]
