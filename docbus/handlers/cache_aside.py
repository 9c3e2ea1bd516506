"""Cache-aside for query replies: look up, else load and encode, then fill.

- The fill carries the token of the lookup, so a value loaded before a concurrent write
  can never be served after that write was acknowledged (see ReplyCache).
- A reply that depended on grants with an ``expires_at`` is cached only until the
  earliest of them (a loader says so by returning ``Expiring``): an expired grant gives
  nothing from that instant on, cached replies included (contract v2, section 5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from docbus.core.ports import Json, ReplyCache


@dataclass(frozen=True, slots=True)
class Expiring:
    """A loaded reply that holds only until ``until`` (None: until some write)."""

    reply: Json
    until: datetime | None


async def cached_reply(
    cache: ReplyCache,
    name: str,
    scopes: Sequence[str],
    load: Callable[[], Awaitable[Json | Expiring]],
    encode: Callable[[Json], bytes],
) -> bytes:
    """The encoded reply named ``name``, from the cache if it is there."""
    found = await cache.lookup(name, scopes)
    if found.value is not None:
        return found.value
    loaded = await load()
    if isinstance(loaded, Expiring):
        reply = encode(loaded.reply)
        await cache.fill(name, found.token, reply, until=loaded.until)
        return reply
    reply = encode(loaded)
    await cache.fill(name, found.token, reply)
    return reply
