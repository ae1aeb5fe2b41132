"""Who is on the other end of a request, behind trusted proxies or not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def client_address(
    peer: str | None, headers: Mapping[str, str], trusted_proxies: Iterable[str]
) -> str | None:
    """The peer address, or the nearest untrusted hop of X-Forwarded-For behind our proxies."""
    trusted = set(trusted_proxies)
    if peer is None or peer not in trusted:
        return peer
    forwarded = headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:64]
    return peer
