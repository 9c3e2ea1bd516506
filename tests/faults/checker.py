"""The checker: what the history should have done, against what PostgreSQL, the audit log,
an event tap and the queues say happened. In Jepsen's terms:

- confirmed: commands the broker confirmed (publisher confirms) at least once;
- lost: confirmed, not dead-lettered, and without its effect (no inbox row, or an inbox row
  whose effect row is missing: an upload without its version, a share without its row, a
  rename whose name is not there, a purge whose rows are; see ``tests.faults.life_check``;
  a folder share, unshare or expiry whose row is there or not: ``tests.faults.share_load``;
  an expired grant still stored 10 s past its expiry);
- duplicate effects: more than one effect for one command (a blob stored as two versions,
  more versions of a doc than uploads of it, a second event_id for one effect in the audit
  log or on the tap; for renames, moves, trashes, restores and purges, whose only trace is
  their event, a second event_id for one command's key in the audit log), or an effect
  nobody asked for (a phantom version or event);
- divergent replies: two replies to one message_id that differ (every delivery of a
  message_id must get the same reply);
- missing audit events: committed effects whose event is not in ``audit_log`` (an expiring
  folder share that took effect must have its ``folder.share.expired`` there, once);
- raw duplicates, allowed and counted: redeliveries the worker saw (its
  ``message_redelivered`` log line: the broker's redelivered flag), deliveries answered
  from the inbox (``duplicate_message_id``), and events seen twice with the same event_id
  on the tap;
- dead-lettered, by reason (``x-docbus-error``, or the broker's own reason);
- end state: work queues, outbox empty.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg
import orjson
from aio_pika.abc import AbstractIncomingMessage

from docbus.consumers.topology import AUDIT_QUEUE_NAME, DEAD_QUEUE_NAME, ERROR_HEADER, ROUTES
from tests.faults.infra import plain_dsn
from tests.faults.life import OPS
from tests.faults.life_check import LifeState, doubled_life, implied_purges, life_event_key
from tests.faults.load import Command
from tests.faults.share_load import ShareState
from tests.faults.share_load import doubled as doubled_shares
from tests.faults.share_load import event_key as share_event_key

WORK_QUEUES = (*(r.queue for r in ROUTES), AUDIT_QUEUE_NAME)


def event_key(body: dict[str, Any]) -> str:
    """The effect an event reports, in the keys ``Command.effect`` uses."""
    kind = body.get("type")
    if kind == "DocumentUploaded":
        return f"upload:{body['document']['blob_uri']}"
    if kind == "DocumentShared":
        return f"share:{body['document_id']}|{body['shared_with']}"
    if kind == "MembershipChanged":
        return f"member:{body['user_id']}"
    if kind == "FolderCreated":
        return f"folder:{body['folder']['folder_id']}"
    return (share_event_key(body) or life_event_key(body)
            or f"other:{body.get('event_id')}")


def dead_reason(message: AbstractIncomingMessage) -> str:
    headers = dict(message.headers or {})
    reason = headers.get(ERROR_HEADER)
    if reason is None:
        reason = f"broker: {headers.get('x-first-death-reason', 'unknown')}"
    text = str(reason.decode() if isinstance(reason, bytes) else reason)
    return text.split(":", 1)[0]  # poison, invalid, unavailable, internal error, broker


@dataclass
class Result:
    scenario: str
    confirmed: int = 0
    lost: int = 0
    duplicate_effects: int = 0
    phantom: int = 0  # effects or events nobody asked for
    missing_audit: int = 0
    duplicate_events: int = 0  # distinct event_ids for one effect (audit log or tap)
    tap_missing: int = 0  # committed effects whose event never reached the tap
    tap_redelivered: int = 0  # same event_id seen again on the tap (allowed)
    redeliveries: int = 0  # deliveries with the broker's redelivered flag (allowed)
    inbox_duplicates: int = 0  # deliveries answered from the inbox (allowed)
    divergent_replies: int = 0
    rejected: int = 0  # commands answered with an error although the plan is valid
    dead: dict[str, int] = field(default_factory=dict)
    publish_retries: int = 0
    queues_empty: bool = True
    outbox_left: int = 0
    drained: bool = True
    recover_s: float | None = None
    faults: int = 0
    consumers_ok: bool | None = None  # every work queue got its consumers back
    stale_reads: int | None = None
    reads: int | None = None
    duration_s: float = 0.0
    commit_gap_s: float | None = None  # longest pause in commits while work was offered
    raw_commit_gap_s: float | None = None  # longest pause between two commits, offered or not
    publisher_gap_s: float | None = None  # longest time the suite's publisher got no confirm
    max_commit_gap_s: float | None = None  # a promise on it (the cluster scenarios)
    control: bool = False  # expected to fail: proves the checker bites
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def judge(self, *, no_redelivery: bool = False, allowed_dead: Iterable[str] = ()) -> None:
        """``no_redelivery``: nothing a worker received may be redone (inbox duplicates).
        Redelivered flags are reported, not judged: at basic.cancel RabbitMQ requeues the
        messages that were on their way to the consumer (never seen by it), flagged
        redelivered (see tests/faults/cancel_probe.py)."""
        """Fill ``failures`` with every broken promise."""
        f = self.failures
        for name in ("lost", "duplicate_effects", "phantom", "missing_audit",
                     "duplicate_events", "tap_missing", "divergent_replies", "rejected"):
            if getattr(self, name):
                f.append(f"{name}={getattr(self, name)}")
        unexpected = {k: v for k, v in self.dead.items() if k not in set(allowed_dead)}
        if unexpected:
            f.append(f"dead-lettered={unexpected}")
        if not self.queues_empty:
            f.append("queues not empty")
        if self.outbox_left:
            f.append(f"outbox_left={self.outbox_left}")
        if not self.drained:
            f.append("did not drain in time")
        if self.consumers_ok is False:
            f.append("consumers did not come back")
        gap, limit = self.commit_gap_s, self.max_commit_gap_s
        if gap is not None and limit is not None and gap > limit:
            f.append(f"commit_gap_s={gap} > {limit}")
        if self.stale_reads:
            f.append(f"stale_reads={self.stale_reads}")
        if no_redelivery and self.inbox_duplicates:
            f.append(f"inbox_duplicates={self.inbox_duplicates} (a graceful stop must leave"
                     " nothing it received to be done again)")

    @property
    def ok(self) -> bool:
        """A control run passes when the checker caught it."""
        caught = self.lost + self.missing_audit + self.tap_missing > 0
        return caught if self.control else not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def check(
    result: Result,
    pg_url: str,
    commands: Sequence[Command],
    confirmed: set[str],
    replies: dict[str, list[bytes]],
    tap: Sequence[AbstractIncomingMessage],
    dead: Sequence[AbstractIncomingMessage],
    queues: dict[str, tuple[int, int]],
) -> Result:
    """Compare the history (commands, confirms, replies) with the database and the queues."""
    r = result
    by_id = {c.message_id: c for c in commands if c.message_id in confirmed}
    r.confirmed = len(by_id)
    dead_ids: set[str] = set()
    reasons: Counter[str] = Counter()
    for message in dead:
        reasons[dead_reason(message)] += 1
        if message.message_id:
            dead_ids.add(message.message_id)
    r.dead = dict(reasons)

    conn = await asyncpg.connect(plain_dsn(pg_url), timeout=10)
    try:
        inbox = {
            row["message_id"]: orjson.loads(row["reply"])
            for row in await conn.fetch("SELECT message_id, reply FROM inbox")  # reply: bytea
        }
        versions = await conn.fetch("SELECT doc_id, version, blob_uri FROM document_versions")
        shares = {
            f"share:{row['doc_id']}|{row['user_id']}": row["role"]
            for row in await conn.fetch("SELECT doc_id, user_id, role FROM shares")
        }
        members = {
            f"member:{row['user_id']}": row["role"]
            for row in await conn.fetch("SELECT user_id, role FROM memberships")
        }
        folders = {
            f"folder:{row['folder_id']}"
            for row in await conn.fetch("SELECT folder_id FROM folders")
        }
        audit = [
            (row["event_id"], orjson.loads(row["body"]))
            for row in await conn.fetch("SELECT event_id, body::text AS body FROM audit_log")
        ]
        life = await LifeState.read(conn)
        folder_shares = await ShareState.read(conn, (event_key(b) for _, b in audit))
        r.outbox_left = int(await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()

    # effects in the database
    blobs = Counter(f"upload:{row['blob_uri']}" for row in versions)
    per_doc: dict[str, list[int]] = defaultdict(list)
    for row in versions:
        per_doc[row["doc_id"]].append(row["version"])
    uploads_per_doc: Counter[str] = Counter(
        c.body["doc_id"] for c in commands if c.kind == "upload"
    )
    asked = {c.effect for c in commands}
    life.settle([c for c in commands if c.message_id in by_id])

    def present(cmd: Command) -> bool:
        held = folder_shares.holds(cmd)
        if held is not None:
            return held
        if cmd.kind in OPS:
            return life.holds(cmd)
        if cmd.kind == "upload":  # or purged since, with every version
            return blobs[cmd.effect] > 0 or cmd.body["doc_id"] in life.purged_docs
        if cmd.kind == "share":
            return shares.get(cmd.effect) == cmd.body["role"]
        if cmd.kind == "member":
            return members.get(cmd.effect) == cmd.body["role"]
        return cmd.effect in folders or cmd.body["folder_id"] in life.purged_folders

    committed: set[str] = set()
    for message_id, cmd in by_id.items():
        reply = inbox.get(message_id)
        if reply is not None and not reply.get("ok"):
            r.rejected += 1
            r.notes.append(f"rejected {message_id}: {reply.get('error')}")
            continue
        if present(cmd):
            committed.add(cmd.effect)
            if reply is None:  # effect without its inbox row: not atomic
                r.lost += 1
                r.notes.append(f"effect without inbox row: {message_id}")
        elif message_id not in dead_ids:
            r.lost += 1
            if len(r.notes) < 20:
                r.notes.append(f"lost {message_id} ({cmd.kind}, inbox={reply is not None})")
    committed |= implied_purges(list(by_id.values()), life)  # a folder purge's documents
    # an expiring folder share that took effect must expire: its row gone, one event
    committed |= folder_shares.expiries(c for c in by_id.values() if c.effect in committed)
    for key in folder_shares.unswept():
        r.lost += 1
        r.notes.append(f"expired grant still stored: {key}")
    r.duplicate_effects += sum(n - 1 for n in blobs.values() if n > 1)
    r.phantom += sum(1 for key in blobs if key not in asked)
    for doc, numbers in per_doc.items():
        if len(numbers) > uploads_per_doc.get(doc, 0):
            r.duplicate_effects += len(numbers) - uploads_per_doc.get(doc, 0)
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            r.notes.append(f"versions of {doc} are not 1..n: {sorted(numbers)}")
            r.duplicate_effects += 1

    # events: the audit log, then the tap
    audit_ids: dict[str, set[str]] = defaultdict(set)
    for event_id, body in audit:
        audit_ids[event_key(body)].add(event_id)
    tap_ids: dict[str, set[str]] = defaultdict(set)
    tap_seen: Counter[str] = Counter()
    for message in tap:
        body = orjson.loads(message.body)
        tap_ids[event_key(body)].add(body["event_id"])
        tap_seen[body["event_id"]] += 1
    r.tap_redelivered = sum(n - 1 for n in tap_seen.values())
    for key in sorted(committed):
        if not audit_ids.get(key):
            r.missing_audit += 1
            if r.missing_audit <= 5:
                r.notes.append(f"no audit event for {key}")
        if not tap_ids.get(key):
            r.tap_missing += 1
    # a lifecycle command's only trace is its event: two event_ids, a doubled effect
    doubled = doubled_life(audit_ids) | doubled_shares(audit_ids)
    r.duplicate_effects += sum(n - 1 for n in doubled.values())
    r.notes += [f"{n} events for {key}" for key, n in sorted(doubled.items())[:5]]
    effects = set(blobs) | set(shares) | set(members) | folders | committed
    for ids in (audit_ids, tap_ids):
        r.duplicate_events += sum(len(v) - 1 for v in ids.values() if len(v) > 1)
        phantoms = [key for key in ids if key not in effects]  # an event, no committed effect
        r.phantom += len(phantoms)
        r.notes += [f"event without effect: {key}" for key in phantoms[:5]]

    # replies: every delivery of a message_id gets the same one
    by_message: dict[str, set[bytes]] = defaultdict(set)
    for correlation_id, bodies in replies.items():
        message_id = correlation_id.split("#", 1)[0]
        if message_id not in by_id:  # queries: not idempotent by design
            continue
        for body in bodies:
            by_message[message_id].add(_canonical(body))
    r.divergent_replies = sum(1 for v in by_message.values() if len(v) > 1)
    for message_id, bodies in by_message.items():
        if len(bodies) > 1 and len(r.notes) < 30:
            r.notes.append(f"divergent replies to {message_id}: {sorted(bodies)[:2]}")

    r.queues_empty = all(queues.get(q, (0, 0))[0] == 0 for q in WORK_QUEUES)
    if DEAD_QUEUE_NAME in queues and queues[DEAD_QUEUE_NAME][0]:
        r.notes.append(f"{queues[DEAD_QUEUE_NAME][0]} message(s) left in docbus.dead")
    return r


def _canonical(body: bytes) -> bytes:
    return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
