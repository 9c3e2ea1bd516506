"""ReplyCache on Valkey 8 (or Redis 7): cached query replies never older than an acked write.

Keys, all under ``prefix``:
- ``v:{scope}``: the scope's version, a random token (12 hex digits), never a counter;
- ``r:{name}#{v1}.{v2}...``: a reply, filed under the versions its scopes had when it was
  looked up, that is *before* the database was read;
- ``verified``: the run_id of the server process whose contents were last vouched for.

Lookup is one Lua script: read (or create) each scope's version, then GET the value key
they name. The value key is the lookup's token; fill is a plain ``SET token value EX ttl``.
Invalidate gives each scope a fresh random version (one pipelined round trip).

Why no lease, no ``SET ... IFEQ`` (Valkey 8.1) and no compare-and-set script (Redis 7):
a reader that looked up before a write and read the database before the write committed
fills under the *old* versions. The write's invalidation happens after its commit, so by
the time anybody is told about the write, the versions have moved on and nobody reads
that key again: the stale fill is dead on arrival (and expires with its TTL). A fill
never has to compare anything at write time, so the same commands (GET, SET, and a
script made of those) behave the same on both servers. Versions are random, not
counted, so a version key that is evicted or expires is re-created with a value no old
reply was filed under: nothing old can come back. (Configure ``maxmemory-policy
volatile-lru`` or ``allkeys-lru``: with ``noeviction`` a full server fails the writes
in lookup and the breaker keeps the cache off.) The script touches a key it cannot
declare (the value key depends on the versions), which standalone servers allow; a
cluster would need every key of a lookup in one hash slot.

Failures. Short socket timeouts and no retries (see ``make_client``). After any error
the CircuitBreaker opens: lookups are misses without a token, fills are dropped and
invalidations go to the durable MissedInvalidations record instead (Unavailable only if
that fails too). Nothing is trusted again until a probe has (1) compared the server's
run_id with ``verified`` and, if they differ (a restart from a snapshot, a promoted
replica), deleted every key under the prefix, (2) applied every missed invalidation,
(3) set ``verified`` to the run_id, only if the server is still the same process.
A connection opened after a restart (by a worker started since, by a pool growing under
load) meets the new server without any error, so the probe alone would miss restarts:
every new connection of the client is vouched for (its server's run_id must equal
``verified``) before any command runs on it. ``verified`` has no TTL (under
``volatile-lru`` it is never evicted; if it is, the next probe flushes the prefix once).
The user needs INFO and EVAL/EVALSHA.

Missed invalidations. A worker also keeps the scopes it could not invalidate in memory
until it has applied them, and its lookups of those scopes bypass the cache meanwhile:
the record may still be on its way to PostgreSQL when a probe reads it. Other workers
learn of them through ``repair()`` (call it every second or so, and on NOTIFY
``docbus_cache_missed``); until they do, they may still serve the value from before the
write. That window (a worker cut off from the cache while others are not) is the one
the contract's "never older than an acknowledged write" is left exposed to.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from valkey.asyncio import ConnectionPool, Valkey
from valkey.asyncio.connection import AbstractConnection
from valkey.asyncio.retry import Retry
from valkey.backoff import NoBackoff
from valkey.exceptions import ConnectionError as ValkeyConnectionError
from valkey.exceptions import ValkeyError

from docbus.adapters.circuit_breaker import Admission, CircuitBreaker
from docbus.core.errors import Unavailable
from docbus.core.ports import Lookup, MissedInvalidations

__all__ = ["CacheStats", "CircuitBreaker", "ServerUnverified", "ValkeyReplyCache", "make_client"]

log = structlog.get_logger(__name__)

VALKEY_ERRORS = (ValkeyError, OSError)
SCAN_BATCH = 1000
MISSED_BATCH = 1000

# KEYS: the scopes' version keys. ARGV: version TTL, value key prefix, one fresh token per scope.
LOOKUP = """
local versions = {}
for i, key in ipairs(KEYS) do
  local version = redis.call('GET', key)
  if not version then
    version = ARGV[i + 2]
    redis.call('SET', key, version, 'EX', ARGV[1])
  end
  versions[i] = version
end
local value_key = ARGV[2] .. table.concat(versions, '.')
return {value_key, redis.call('GET', value_key)}
"""

# KEYS: the verified marker. Returns the server's run_id and the marker.
IDENTIFY = """
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
return {run_id, redis.call('GET', KEYS[1])}
"""

# KEYS: the verified marker; ARGV: the run_id the probe checked. 1 if still that server.
CONFIRM = """
if string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


class ServerUnverified(ValkeyConnectionError):
    """The server's contents have not been vouched for since it (re)started."""


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0  # lookups that reached the cache and found nothing
    bypassed: int = 0  # lookups answered as misses because the breaker was open
    errors: int = 0
    recorded: int = 0  # scopes written to MissedInvalidations instead of the cache
    repaired: int = 0  # missed invalidations applied
    flushes: int = 0  # times the prefix was deleted because the server had changed
    breaker: str = "closed"


def make_client(url: str, timeout: float = 0.25) -> Valkey:
    """A client that fails fast: short timeouts, no retries, no health checks."""
    client: Valkey = Valkey.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry_on_timeout=False, retry=Retry(NoBackoff(), 0), health_check_interval=0,
        lib_name=None, lib_version=None,
    )
    return client


def _token() -> str:
    return secrets.token_hex(6)


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class ValkeyReplyCache:
    """The ReplyCache port on Valkey/Redis. Owns ``client`` from now on (its connect hook
    too: pass one that has not connected yet, from ``make_client``); ``aclose()`` both."""

    def __init__(
        self,
        client: Valkey,
        misses: MissedInvalidations,
        *,
        prefix: str = "docbus:",
        ttl_seconds: int = 300,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._client, self._misses, self._prefix = client, misses, prefix
        self._ttl, self._version_ttl = ttl_seconds, 4 * ttl_seconds
        self._breaker = breaker or CircuitBreaker()
        self._breaker.require_probe()
        self._marker = f"{prefix}verified"
        self._stats = CacheStats()
        self._unapplied: Counter[str] = Counter()  # scopes this worker could not invalidate
        self._admin = _sibling_without_hook(client)
        client.connection_pool.connection_kwargs["valkey_connect_func"] = self._vouch
        self._lookup = client.register_script(LOOKUP)
        self._identify = self._admin.register_script(IDENTIFY)
        self._confirm = self._admin.register_script(CONFIRM)

    # the port

    async def lookup(self, name: str, scopes: Sequence[str]) -> Lookup:
        if not await self._ready() or any(s in self._unapplied for s in scopes):
            self._stats.bypassed += 1
            return Lookup(None, None)
        try:
            found = await self._run_lookup(name, scopes)
        except Exception as error:  # a cache never fails a query
            self._fail(error)
            return Lookup(None, None)
        self._count(found)
        return found

    async def fill(
        self, name: str, token: str | None, value: bytes, *, until: datetime | None = None
    ) -> None:
        if token is None or not token.startswith(self._value_prefix(name)):
            return
        ttl_ms = self._ttl * 1000
        if until is not None:
            # Capped at the first expiry of a grant the value depended on (whole ms, down).
            ttl_ms = min(ttl_ms, int((until - datetime.now(UTC)).total_seconds() * 1000))
        if ttl_ms <= 0 or not await self._ready():
            return
        try:
            await self._client.set(token, value, px=ttl_ms)
        except Exception as error:  # a cache never fails a query
            self._fail(error)

    async def invalidate(self, scopes: Sequence[str]) -> None:
        unique = list(dict.fromkeys(scopes))
        if not unique:
            return
        if await self._ready():
            try:
                await self._bump(self._client, unique)
                return
            except VALKEY_ERRORS as error:
                self._fail(error)
        self._unapplied.update(unique)
        await self._record(unique)

    # maintenance

    async def repair(self) -> int:
        """Apply invalidations that any worker failed to deliver; how many were applied.
        If there are some and the cache cannot take them, stop serving from it."""
        admission = self._breaker.admit()
        if admission is Admission.PROBE:
            return await self._probe() or 0
        if admission is Admission.REJECT:
            return 0
        try:
            return await self._apply_missed(self._client)
        except VALKEY_ERRORS as error:
            self._fail(error)
            return 0

    async def ping(self) -> bool:
        """True if the cache answers now (readiness: down means degraded, not broken)."""
        try:
            return bool(await self._admin.ping())
        except VALKEY_ERRORS:
            return False

    async def server(self) -> str:
        """What answers, e.g. "valkey 8.1.8" or "redis 7.0.15" ("unreachable" if nothing)."""
        try:
            info = await self._admin.info("server")
        except VALKEY_ERRORS:
            return "unreachable"
        if "valkey_version" in info:
            return f"valkey {info['valkey_version']}"
        return f"redis {info.get('redis_version', '?')}"

    def stats(self) -> CacheStats:
        return replace(self._stats, breaker=self._breaker.state.value)

    async def aclose(self) -> None:
        """Close both clients: the cache owns the one it was given."""
        await self._admin.aclose(close_connection_pool=True)
        await self._client.aclose()

    # lookups

    def _version_key(self, scope: str) -> str:
        return f"{self._prefix}v:{scope}"

    def _value_prefix(self, name: str) -> str:
        return f"{self._prefix}r:{name}#"

    async def _run_lookup(self, name: str, scopes: Sequence[str]) -> Lookup:
        keys = [self._version_key(s) for s in scopes]
        tokens = [_token() for _ in scopes]
        args: list[str | int] = [self._version_ttl, self._value_prefix(name), *tokens]
        reply: list[bytes | None] = await self._lookup(keys=keys, args=args)
        token = reply[0]
        assert token is not None
        return Lookup(reply[1] if len(reply) > 1 else None, token.decode())

    def _count(self, found: Lookup) -> None:
        if found.value is None:
            self._stats.misses += 1
        else:
            self._stats.hits += 1

    # invalidations

    async def _bump(self, client: Valkey, scopes: Iterable[str]) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for scope in scopes:
                pipe.set(self._version_key(scope), _token(), ex=self._version_ttl)
            await pipe.execute()

    async def _record(self, scopes: list[str]) -> None:
        try:
            await self._misses.record(scopes)
        except Exception as error:
            raise Unavailable("cache invalidation could be neither applied nor recorded") from error
        self._stats.recorded += len(scopes)

    async def _apply_missed(self, client: Valkey) -> int:
        """Apply the recorded misses and this worker's own (maybe still being recorded)."""
        own = Counter(self._unapplied)
        applied = await self._apply_recorded(client)
        if own:
            await self._bump(client, own)
            self._unapplied -= own
        return applied

    async def _apply_recorded(self, client: Valkey) -> int:
        applied = 0
        while rows := await self._misses.pending(MISSED_BATCH):
            await self._bump(client, dict.fromkeys(scope for _, scope in rows))
            await self._misses.resolved([row_id for row_id, _ in rows])
            applied += len(rows)
            if len(rows) < MISSED_BATCH:
                break
        self._stats.repaired += applied
        return applied

    # the breaker and the probe

    async def _ready(self) -> bool:
        admission = self._breaker.admit()
        if admission is Admission.PROBE:
            return await self._probe() is not None
        return admission is Admission.ALLOW

    def _fail(self, error: BaseException) -> None:
        self._stats.errors += 1
        if self._breaker.failed():
            log.warning("reply_cache_unavailable", error=repr(error),
                        open_seconds=self._breaker.open_seconds)

    async def _probe(self) -> int | None:
        """Vouch for the server and close the breaker; the invalidations applied, or None."""
        try:
            repaired = await self._verify()
        except Exception as error:  # the misses record may be down too
            self._fail(error)
            return None
        except BaseException:
            self._breaker.failed()
            raise
        self._breaker.succeeded()
        log.info("reply_cache_trusted", repaired=repaired)
        return repaired

    async def _verify(self) -> int:
        run_id, marker = await self._identify(keys=[self._marker])
        if marker != run_id:
            await self._flush(reason="never checked" if marker is None else "server changed")
        repaired = await self._apply_missed(self._admin)
        if not await self._confirm(keys=[self._marker], args=[run_id]):
            raise ServerUnverified("the server restarted while it was being checked")
        return repaired

    async def _flush(self, reason: str) -> None:
        """Delete every key under the prefix: the contents may come from an old snapshot."""
        batch: list[bytes] = []
        async for key in self._admin.scan_iter(match=_glob_escape(self._prefix) + "*",
                                               count=SCAN_BATCH):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                await self._admin.unlink(*batch)
                batch.clear()
        if batch:
            await self._admin.unlink(*batch)
        self._stats.flushes += 1
        # A server never checked before (the first start) is the normal case, not a warning.
        report = log.info if reason == "never checked" else log.warning
        report("reply_cache_flushed", reason=reason, prefix=self._prefix)

    async def _vouch(self, connection: AbstractConnection) -> None:
        """Connect hook: no command may run on a server nobody has vouched for."""
        await connection.on_connect()
        await connection.send_command("EVAL", IDENTIFY, 1, self._marker)
        run_id, marker = await connection.read_response()
        if marker != run_id:
            raise ServerUnverified("server changed since it was last checked")


def _sibling_without_hook(client: Valkey) -> Valkey:
    """A client with ``client``'s settings but its own pool and no connect hook (the probe's)."""
    pool = client.connection_pool
    kwargs: dict[str, Any] = dict(pool.connection_kwargs)
    kwargs.pop("valkey_connect_func", None)
    return Valkey(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))
