"""Debian's nginx as a round-robin load balancer in front of langstar replicas, started by
a test with a configuration of its own on a loopback port."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream langstar {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://langstar;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Server-sent events pass as they come.
            proxy_buffering off;
            proxy_read_timeout 120s;
            # A replica that is down (refusing connections) is skipped: the request
            # never reached it, so even a POST is safe to send to the next one.
            proxy_next_upstream error timeout non_idempotent;
        }}
    }}
}}
"""


def available() -> bool:
    return Path(NGINX).exists()


@contextmanager
def balancer(upstreams: Sequence[str], folder: Path) -> Iterator[str]:
    """nginx balancing round robin over `upstreams` (`host:port`); yields its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    config = folder / "nginx.conf"
    config.write_text(CONFIG.format(dir=folder, servers=servers, port=port))
    proc = subprocess.Popen(
        [NGINX, "-c", str(config), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/ok", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "error.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
