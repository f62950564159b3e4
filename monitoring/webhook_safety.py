"""Where a webhook may point: http(s) to a public address, or to an internal host the lab named in the setting
ASSB_WEBHOOK_ALLOWED_HOSTS. Checked when a URL is saved and again before every delivery (a name can be
pointed somewhere else later), so the alert sender cannot be used to reach the lab's own services
(databases, Redis, the admin) or a cloud's metadata endpoint."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
# Cloud metadata endpoints; all of them are also non-global, named here so the message can say so.
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254")}


class UnsafeWebhookUrl(ValueError):
    """A webhook URL that is not http(s), cannot be resolved or points to an internal address."""


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address in METADATA_ADDRESSES or not address.is_global or address.is_multicast


def _addresses(host: str, port: int) -> list:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"the host {host} cannot be resolved ({exc})") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def check_url(url: str, *, allowed_hosts=()) -> None:
    """Raise UnsafeWebhookUrl unless `url` is http(s) and its host resolves only to public addresses (or is
    named, exactly, in `allowed_hosts`)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES:
        raise UnsafeWebhookUrl(f"a webhook URL must be http or https, not {parts.scheme or 'no scheme'!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeWebhookUrl("the webhook URL has no host")
    if host in {h.strip().lower() for h in allowed_hosts}:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise UnsafeWebhookUrl("the webhook URL's port is not a number from 0 to 65535") from None
    hint = ("webhooks may only reach public addresses; a lab that needs an internal receiver names its host in "
            "the setting ASSB_WEBHOOK_ALLOWED_HOSTS")
    for address in _addresses(host, port):
        if _internal(address):
            if host == str(address) or host.strip("[]") == str(address):
                raise UnsafeWebhookUrl(f"{host} is an internal address (loopback, private, link-local or metadata "
                                       f"range): {hint}")
            raise UnsafeWebhookUrl(f"{host} resolves to the internal address {address}: {hint}")


def check_webhook_url(url: str) -> None:
    """check_url with the lab's allow-list (settings.ASSB_WEBHOOK_ALLOWED_HOSTS)."""
    from django.conf import settings

    check_url(url, allowed_hosts=getattr(settings, "ASSB_WEBHOOK_ALLOWED_HOSTS", ()))
