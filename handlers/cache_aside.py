"""Cache-aside for query replies: look up, else load and encode, then fill.

The fill carries the token of the lookup, so a value loaded before a concurrent write
can never be served after that write was acknowledged (see ReplyCache).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from core.ports import Json, ReplyCache


async def cached_reply(
    cache: ReplyCache,
    name: str,
    scopes: Sequence[str],
    load: Callable[[], Awaitable[Json]],
    encode: Callable[[Json], bytes],
) -> bytes:
    """The encoded reply named ``name``, from the cache if it is there."""
    found = await cache.lookup(name, scopes)
    if found.value is not None:
        return found.value
    reply = encode(await load())
    await cache.fill(name, found.token, reply)
    return reply
