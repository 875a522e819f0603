"""Which webhook URLs a server may call: a guard against requests into its own network.

A URL is checked when a run or cron names it (a 422 naming the broken rule) and again
before each delivery, after its host is resolved, so a name that later resolves to a
private address is still refused. Loopback, private, link-local, cloud metadata and
other special addresses are refused unless `[webhooks] allow_private` lets loopback and
private ones through; metadata and link-local addresses are always refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from langstar.errors import InvalidError
from langstar.settings import WebhookSettings

MAX_URL_LENGTH = 65_536
# Names that reach a cloud provider's instance metadata, whatever they resolve to.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
RESOLVE_SECONDS = 2.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefusedError(InvalidError):
    """A webhook URL breaks a rule of the policy; `rule` names it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__("webhook", f"{message} (rule: {rule})")
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Target:
    """Where a delivery goes: the URL's host, and the address checked for it."""

    url: str
    scheme: str
    host: str
    port: int
    address: Address


class WebhookPolicy:
    """The rules of `[webhooks]`, applied to one URL at a time."""

    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings

    def _parse(self, url: str) -> tuple[str, str, int]:
        if len(url) > MAX_URL_LENGTH:
            raise WebhookRefusedError("length", f"longer than {MAX_URL_LENGTH} characters")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookRefusedError("url", f"{url!r} is not an absolute http(s) URL")
        if self._settings.require_https and parts.scheme != "https":
            raise WebhookRefusedError("https", "only https webhooks are allowed here")
        if parts.username or parts.password:
            raise WebhookRefusedError("url", "credentials in the URL are not allowed")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise WebhookRefusedError("url", f"{url!r} has an invalid port") from None
        host = parts.hostname.rstrip(".").lower()
        if host in METADATA_HOSTS:
            raise WebhookRefusedError("metadata", f"{host} is a cloud metadata address")
        self._check_domain(host)
        return parts.scheme, host, port

    def _check_domain(self, host: str) -> None:
        allowed = self._settings.allowed_domains
        if not allowed:
            return
        for pattern in allowed:
            pattern = pattern.lower()
            if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
                return
        raise WebhookRefusedError(
            "allowed_domains", f"{host} is not among webhooks.allowed_domains"
        )

    def check_address(self, address: Address, host: str) -> None:
        """Refuse an address the server must not call."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address in METADATA_ADDRESSES or host in METADATA_HOSTS:
            raise WebhookRefusedError("metadata", f"{host} is a cloud metadata address")
        if address.is_link_local:
            raise WebhookRefusedError("link-local", f"{host} resolves to link-local {address}")
        if address.is_multicast or address.is_unspecified:
            raise WebhookRefusedError("reserved", f"{host} resolves to special address {address}")
        if address.is_loopback or address.is_private:
            if not self._settings.allow_private:
                rule = "loopback" if address.is_loopback else "private"
                raise WebhookRefusedError(
                    rule,
                    f"{host} resolves to {rule} address {address}; set "
                    "webhooks.allow_private to allow it",
                )
            return
        if address.is_reserved:
            raise WebhookRefusedError("reserved", f"{host} resolves to special address {address}")

    async def check(self, url: str) -> None:
        """At ingestion: the URL's form and, when its host resolves now, its addresses.

        A host that does not resolve yet is accepted here; delivery resolves it again.
        """
        _, host, port = self._parse(url)
        if host == "localhost" or host.endswith(".localhost"):
            self.check_address(ipaddress.ip_address("127.0.0.1"), host)
            return
        with contextlib.suppress(OSError, TimeoutError):
            for address in await _resolve(host, port):
                self.check_address(address, host)

    async def target(self, url: str) -> Target:
        """At delivery: the URL checked again, with the address it will be sent to."""
        scheme, host, port = self._parse(url)
        addresses = await _resolve(host, port)
        if not addresses:
            raise OSError(f"{host} did not resolve")
        for address in addresses:
            self.check_address(address, host)
        return Target(url, scheme, host, port, addresses[0])


async def _resolve(host: str, port: int) -> list[Address]:
    with contextlib.suppress(ValueError):
        return [ipaddress.ip_address(host)]
    loop = asyncio.get_running_loop()
    found = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS
    )
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
