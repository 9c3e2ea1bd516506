"""Events on a Valkey stream (or Redis 7): the relay's publisher and the reader's commands.

An entry (docs/contract.md, "Events on Valkey Streams") holds the fields ``event_id``,
``routing_key``, ``body`` (the exact JSON bytes RabbitMQ carries) and ``traceparent``
(only when the event has one). Entry ids are the server's (``*``): outbox ids do not
follow commit order, so they cannot be entry ids.

Rules:

- One batch is one Lua script (EVAL; Redis 7 and Valkey 8 both have it, nothing newer is
  used), so a batch is added whole or not at all.
- De-duplication: an entry is added only if ``<stream>:seen:<event_id>`` is absent; that
  key is then set to the entry's id for ``dedup_seconds``. A re-publish (the relay died
  between the XADD and marking its row, or the reply was lost) returns the first entry's
  id instead of adding a second one.
- The stream's length is bounded: ``XADD MAXLEN ~ maxlen`` (approximate trimming, cheap).
- Confirmed means the server executed the script (in memory; on disk per its appendfsync
  setting): the same promise a cache server gives, see docs/decisions.md.
- The reader uses a consumer group: XREADGROUP for new entries, XACK once handled,
  XAUTOCLAIM for the pending entries of a consumer idle past a limit (a dead worker's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from valkey.asyncio import Valkey
from valkey.exceptions import ResponseError

from docbus.core.ports import OutboxMessage

ADD_EVENTS = """
local ids = {}
for i = 2, #KEYS do
  local seen = redis.call('GET', KEYS[i])
  if seen then
    ids[#ids + 1] = seen
  else
    local at = 3 + (i - 2) * 4
    local fields = {'event_id', ARGV[at], 'routing_key', ARGV[at + 1], 'body', ARGV[at + 2]}
    if ARGV[at + 3] ~= '' then
      fields[#fields + 1] = 'traceparent'
      fields[#fields + 1] = ARGV[at + 3]
    end
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
    redis.call('SET', KEYS[i], id, 'EX', ARGV[2])
    ids[#ids + 1] = id
  end
end
return ids
"""


def make_streams_client(url: str, timeout: float = 5.0) -> Valkey:
    """A client for the streams: its socket timeout must outlast a blocking read."""
    client: Valkey = Valkey.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, lib_name=None,
        lib_version=None,
    )
    return client


class ValkeyStreamPublisher:
    """core.ports.EventPublisher on a stream; one script call per batch."""

    def __init__(
        self, client: Valkey, stream: str, *, maxlen: int, dedup_seconds: int
    ) -> None:
        self._client = client
        self._stream = stream
        self._maxlen = maxlen
        self._dedup = dedup_seconds
        self._script = client.register_script(ADD_EVENTS)

    def seen_key(self, event_id: str) -> str:
        return f"{self._stream}:seen:{event_id}"

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        """Add every message not added before; all of them are confirmed, or it raises."""
        if not messages:
            return []
        keys = [self._stream, *(self.seen_key(m.event_id) for m in messages)]
        args: list[str | bytes | int] = [self._maxlen, self._dedup]
        for m in messages:
            args += [m.event_id, m.routing_key, m.body, m.traceparent or ""]
        await self._script(keys=keys, args=args)
        return [m.id for m in messages]


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry as read; ``fields`` as stored (bytes)."""

    id: str
    fields: dict[bytes, bytes]

    def text(self, name: str) -> str | None:
        value = self.fields.get(name.encode())
        return None if value is None else value.decode("utf-8", "replace")


class StreamGroupReader:
    """A consumer ``consumer`` of the group ``group`` on ``stream``."""

    def __init__(self, client: Valkey, stream: str, group: str, consumer: str) -> None:
        self._client = client
        self.stream, self.group, self.consumer = stream, group, consumer
        self._reclaim_from = "0-0"

    async def ensure_group(self) -> None:
        """Create the group (and the stream) if missing; from the first entry, so that
        events added before the group existed are read too."""
        try:
            await self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read(self, count: int, block_ms: int) -> list[StreamEntry]:
        """New entries for this consumer (they are pending until acked)."""
        reply = await self._client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return [_entry(i, f) for _, entries in reply or [] for i, f in entries]

    async def reclaim(self, min_idle_ms: int, count: int) -> list[StreamEntry]:
        """Pending entries idle past ``min_idle_ms`` (their consumer died), now this one's.
        A scan in pages: each call goes on where the previous one stopped."""
        reply = await self._client.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_ms, self._reclaim_from, count=count
        )
        self._reclaim_from = _text(reply[0])
        return [_entry(i, f) for i, f in reply[1] if f is not None]

    async def ack(self, ids: Sequence[str]) -> None:
        if ids:
            await self._client.xack(self.stream, self.group, *ids)

    async def dead_letter(self, entry: StreamEntry, reason: str, *, maxlen: int) -> None:
        """Copy the entry to ``<stream>:dead`` with the reason, then ack it."""
        fields = {**entry.fields, b"reason": reason.encode(), b"entry_id": entry.id.encode()}
        await self._client.xadd(f"{self.stream}:dead", fields, maxlen=maxlen, approximate=True)
        await self.ack([entry.id])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry:
    return StreamEntry(_text(entry_id), dict(fields))
