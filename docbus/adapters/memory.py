"""In-memory adapters for unit tests and for the contract tests that keep them honest.

Write units run one at a time (a lock held from start to end), so they behave like
serializable transactions; read-only units see the last committed state.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Self

from docbus.adapters.memory_search import InMemorySearchIndex
from docbus.adapters.memory_tree import (
    InMemoryDocumentLifecycle,
    InMemoryFolderTree,
    document_grants,
    folder_in_trash,
    name_clash,
)
from docbus.core import tracing
from docbus.core.access import Grant, highest, live_grants, valid_until
from docbus.core.cursor import Cursor
from docbus.core.decisions import AccessDecider, BuiltInDecider, Question
from docbus.core.entities import Document, DocumentVersion, Folder, Membership, Share, ShareGrant
from docbus.core.errors import FolderIdTaken, FolderNameTaken
from docbus.core.events import DomainEvent
from docbus.core.idempotency import IdempotencyKey, StoredReply
from docbus.core.lifecycle import FolderAccess
from docbus.core.policies import Access
from docbus.core.ports import RABBITMQ, AuditEntry, Lookup, OutboxMessage
from docbus.core.reads import Reads
from docbus.core.sharing import ExpiredGrant, SharedItem, SharedPosition
from docbus.core.values import Capability, OrgRole, Role


class FixedClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float = 1.0) -> None:
        self.current += timedelta(seconds=seconds)


class SequentialIds:
    def __init__(self, prefix: str = "evt-") -> None:
        self._next = itertools.count(1)
        self._prefix = prefix

    def new_id(self) -> str:
        return f"{self._prefix}{next(self._next)}"


@dataclass
class State:
    folders: dict[str, Folder] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    versions: dict[str, list[DocumentVersion]] = field(default_factory=dict)
    memberships: dict[tuple[str, str], OrgRole] = field(default_factory=dict)
    shares: dict[tuple[str, str], Role] = field(default_factory=dict)
    inbox: dict[tuple[str, str], StoredReply] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    folder_shares: dict[tuple[str, str], tuple[Role, datetime | None]] = field(
        default_factory=dict
    )
    """(folder_id, user_id) -> (role, expires_at)."""
    share_grants: dict[tuple[str, str], ShareGrant] = field(default_factory=dict)
    """(doc_id, user_id) -> who granted the share, when, until when (absent: unknown)."""
    folder_share_grants: dict[tuple[str, str], ShareGrant] = field(default_factory=dict)
    """(folder_id, user_id) -> who granted the folder share, when (absent: unknown)."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The time expiries are judged at (the database's clock)."""
        return self.clock()

    def copy(self) -> State:
        return State(
            dict(self.folders),
            dict(self.documents),
            {k: list(v) for k, v in self.versions.items()},
            dict(self.memberships),
            dict(self.shares),
            dict(self.inbox),
            list(self.outbox),
            dict(self.folder_shares),
            dict(self.share_grants),
            dict(self.folder_share_grants),
            self.clock,
        )

    def live_share(self, doc_id: str, user_id: str) -> Share | None:
        """The user's document share unless it expired."""
        role = self.shares.get((doc_id, user_id))
        if role is None:
            return None
        g = self.share_grants.get((doc_id, user_id), ShareGrant())
        if g.expires_at is not None and g.expires_at <= self.now():
            return None
        return Share(doc_id, user_id, role, g.expires_at, g.shared_by, g.shared_at)

    def live_folder(self, folder_id: str) -> Folder | None:
        """The folder unless it or one above it is in the trash (v1 reads see live ones)."""
        folder = self.folders.get(folder_id)
        return None if folder is None or folder_in_trash(self, folder_id) else folder

    def document(self, doc_id: str) -> Document | None:
        """The document, marked if its folder is in the trash."""
        found = self.documents.get(doc_id)
        if found is None or not folder_in_trash(self, found.folder_id):
            return found
        return replace(found, folder_trashed=True)


class InMemoryDatabase:
    """The committed state plus the lock that serializes write units."""

    def __init__(
        self, clock: FixedClock | None = None, decider: AccessDecider | None = None
    ) -> None:
        self.clock = clock or FixedClock()
        self.state = State(clock=self.clock.now)
        self.decider = decider or BuiltInDecider(self.clock.now)
        self.write_lock = asyncio.Lock()
        self.outbox_ids = itertools.count(1)
        self.commits = 0
        self.sent: set[int] = set()


class _Folders:
    def __init__(self, state: State) -> None:
        self._s = state

    async def get(self, folder_id: str) -> Folder | None:
        return self._s.live_folder(folder_id)

    async def get_with_role(
        self, folder_id: str, user_id: str
    ) -> tuple[Folder | None, OrgRole | None]:
        folder = self._s.live_folder(folder_id)
        role = self._s.memberships.get((folder.org_id, user_id)) if folder else None
        return folder, role

    async def add(self, folder: Folder) -> None:
        if folder.folder_id in self._s.folders:
            raise FolderIdTaken(folder.folder_id)
        if name_clash(self._s, folder):
            raise FolderNameTaken(folder.name)
        self._s.folders[folder.folder_id] = folder


class _Documents:
    def __init__(self, state: State, decider: AccessDecider) -> None:
        self._s = state
        self._decider = decider

    async def get(self, doc_id: str) -> Document | None:
        return self._s.document(doc_id)

    async def lock(self, doc_id: str) -> Document | None:
        return self._s.document(doc_id)

    async def get_with_access(
        self, doc_id: str, user_id: str, *, lock: bool = False
    ) -> tuple[Document | None, Access]:
        document = self._s.document(doc_id)
        if document is None:
            return None, Access(user_id, None, None)
        org_role = self._s.memberships.get((document.org_id, user_id))
        now = self._s.now()
        gathered = document_grants(self._s, doc_id, user_id)
        grants = live_grants(gathered, now)
        doc_role = highest(g.role for g in grants if g.source == "document")
        folder_role = highest(g.role for g in grants if g.source == "folder")
        until = valid_until(grants, now)
        # The decider judges every grant gathered, expired ones too.
        question = Question(user_id, "document", doc_id, org_role, tuple(gathered))
        [decided] = await self._decider.decide([question])
        return document, Access(
            user_id, org_role, doc_role, folder_role, until, decided, question.grants
        )

    async def add(
        self, document: Document, version: DocumentVersion, shares: Sequence[Share] = ()
    ) -> bool:
        if document.doc_id in self._s.documents:
            return False
        self._s.documents[document.doc_id] = document
        self._s.versions[document.doc_id] = [version]
        for share in shares:
            if share.role is not None:
                self._s.shares[(document.doc_id, share.user_id)] = share.role
                self._s.share_grants[(document.doc_id, share.user_id)] = ShareGrant(
                    document.owner_id, document.created_at
                )
        return True

    async def add_version(self, document: Document, version: DocumentVersion) -> None:
        self._s.documents[document.doc_id] = document
        self._s.versions[document.doc_id].append(version)

    async def versions(self, doc_id: str) -> list[DocumentVersion]:
        return list(self._s.versions.get(doc_id, []))

    async def page(
        self, folder_id: str, reader: FolderAccess, *, limit: int, after: Cursor | None
    ) -> list[Document]:
        docs = [
            d
            for d in self._s.documents.values()
            if d.folder_id == folder_id
            and d.trashed_at is None
            and (after is None or (d.updated_at, d.doc_id) < (after.updated_at, after.doc_id))
        ]
        docs = await self._readable(folder_id, reader, docs)
        docs.sort(key=lambda d: (d.updated_at, d.doc_id), reverse=True)
        return docs[:limit]

    async def _readable(
        self, folder_id: str, reader: FolderAccess, docs: list[Document]
    ) -> list[Document]:
        """The listing filter (a fake: a policy's plan is checked document by document)."""
        question = Question(reader.user_id, "folder", folder_id, reader.org_role, reader.grants)
        readable = await self._decider.readable(question)
        if readable.kind in ("all", "none"):
            return docs if readable.kind == "all" else []
        if readable.kind == "own_share":
            return [d for d in docs if self._s.live_share(d.doc_id, reader.user_id)]
        questions = [
            Question(reader.user_id, "document", d.doc_id, reader.org_role,
                     tuple(document_grants(self._s, d.doc_id, reader.user_id)))
            for d in docs
        ]
        decided = await self._decider.decide(questions)
        return [d for d, can in zip(docs, decided, strict=True) if Capability.READ in can]


class _Memberships:
    def __init__(self, state: State) -> None:
        self._s = state

    async def role_of(self, org_id: str, user_id: str) -> OrgRole | None:
        return self._s.memberships.get((org_id, user_id))

    async def put(self, membership: Membership) -> OrgRole | None:
        key = (membership.org_id, membership.user_id)
        before = self._s.memberships.pop(key, None)
        if membership.role is not None:
            self._s.memberships[key] = membership.role
        return before


class _Shares:
    def __init__(self, state: State) -> None:
        self._s = state

    async def role_of(self, doc_id: str, user_id: str) -> Role | None:
        share = self._s.live_share(doc_id, user_id)
        return share.role if share else None

    async def get(self, doc_id: str, user_id: str) -> Share | None:
        return self._s.live_share(doc_id, user_id)

    async def put(
        self, doc_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        self._s.shares.pop((doc_id, user_id), None)
        self._s.share_grants.pop((doc_id, user_id), None)
        if role is not None:
            self._s.shares[(doc_id, user_id)] = role
            self._s.share_grants[(doc_id, user_id)] = grant or ShareGrant()

    async def owners(self, doc_id: str) -> int:
        return sum(
            1 for (d, u), r in self._s.shares.items()
            if d == doc_id and r is Role.OWNER and self._s.live_share(d, u) is not None
        )

    async def grants(self, doc_id: str, user_id: str | None = None) -> list[tuple[str, Grant]]:
        document = self._s.documents.get(doc_id)
        if document is None:
            return []
        now, org = self._s.now(), document.org_id
        users = {u for (o, u) in self._s.memberships if o == org}
        found = [
            (u, g) for u in sorted(users) if user_id in (None, u)
            for g in document_grants(self._s, doc_id, u) if g.live(now)
        ]
        found += [(u, Grant(Role.OWNER, "org_admin")) for u in sorted(users)
                  if user_id in (None, u) and self._s.memberships[org, u] is OrgRole.ADMIN]
        return found

    async def with_me(
        self, org_id: str, user_id: str, *, limit: int, after: SharedPosition | None
    ) -> list[SharedItem]:
        s, now = self._s, self._s.now()
        items = [
            SharedItem("document", document, None, s.shares[d, u], g.shared_by, g.shared_at,
                       g.expires_at)
            for (d, u), g in s.share_grants.items()
            if u == user_id and (document := s.document(d)) is not None
            and document.org_id == org_id and not document.in_trash
            and (d, u) in s.shares and s.live_share(d, u) is not None
            and g.shared_by not in (None, user_id) and g.shared_at is not None
        ]
        items += [
            SharedItem("folder", None, s.folders[f], role, g.shared_by, g.shared_at, expires_at)
            for (f, u), (role, expires_at) in s.folder_shares.items()
            if u == user_id and s.folders[f].org_id == org_id and s.live_folder(f) is not None
            and (expires_at is None or expires_at > now)
            and (g := s.folder_share_grants.get((f, u), ShareGrant())).shared_by
            not in (None, user_id) and g.shared_at is not None
        ]
        items = [i for i in items if after is None or i.position < after]
        items.sort(key=lambda i: i.position, reverse=True)
        return items[:limit]

    async def try_lock_expiry_sweeper(self) -> bool:
        """Always: write units run one at a time."""
        return True

    async def expired(self, now: datetime, limit: int) -> list[ExpiredGrant]:
        s = self._s
        found = [
            ExpiredGrant("document", d, s.documents[d].org_id, u, s.shares[d, u], g.expires_at)
            for (d, u), g in s.share_grants.items()
            if (d, u) in s.shares and g.expires_at is not None and g.expires_at <= now
        ]
        found.sort(key=lambda e: (e.expires_at, e.item_id, e.user_id))
        folders = [
            ExpiredGrant("folder", f, s.folders[f].org_id, u, role, expires_at)
            for (f, u), (role, expires_at) in s.folder_shares.items()
            if expires_at is not None and expires_at <= now
        ]
        folders.sort(key=lambda e: (e.expires_at, e.item_id, e.user_id))
        return (found + folders)[:limit]

    async def remove(self, grant: ExpiredGrant) -> None:
        key = (grant.item_id, grant.user_id)
        if grant.kind == "document":
            self._s.shares.pop(key, None)
            self._s.share_grants.pop(key, None)
        else:
            self._s.folder_shares.pop(key, None)
            self._s.folder_share_grants.pop(key, None)

    async def until(self, user_id: str, org_id: str) -> datetime | None:
        now = self._s.now()
        ends = [
            g.expires_at for (d, u), g in self._s.share_grants.items()
            if u == user_id and (d, u) in self._s.shares
            and self._s.documents[d].org_id == org_id
        ] + [
            expires_at for (f, u), (_, expires_at) in self._s.folder_shares.items()
            if u == user_id and self._s.folders[f].org_id == org_id
        ]
        live = [at for at in ends if at is not None and at > now]
        return min(live) if live else None


class _Inbox:
    """Rows by slot (sender, message_id); a row without a fingerprint stands for one
    recorded before keys were scoped (sender ""): it takes its message_id for every sender."""

    def __init__(self, state: State) -> None:
        self._s = state

    async def record(self, key: IdempotencyKey, reply: bytes, scopes: Sequence[str]) -> bool:
        if await self.find(key) is not None:
            return False
        self._s.inbox[key.slot] = _stored(key, reply, scopes)
        return True

    async def find(self, key: IdempotencyKey) -> StoredReply | None:
        stored = self._s.inbox.get(key.slot)
        if stored is None:
            legacy = self._s.inbox.get(("", key.message_id))
            stored = legacy if legacy is not None and legacy.fingerprint is None else None
        return stored


def _stored(key: IdempotencyKey, reply: bytes, scopes: Sequence[str]) -> StoredReply:
    return StoredReply(reply, tuple(scopes), key.routing_key, key.fingerprint)


class InMemoryUnitOfWork:
    def __init__(self, db: InMemoryDatabase, *, read_only: bool = False) -> None:
        self._db = db
        self._read_only = read_only
        self._committed = False
        self._events: list[tuple[DomainEvent, tuple[str, ...], str | None]] = []

    async def __aenter__(self) -> Self:
        if not self._read_only:
            await self._db.write_lock.acquire()
        self._state = self._db.state if self._read_only else self._db.state.copy()
        self.folders = _Folders(self._state)
        self.documents = _Documents(self._state, self._db.decider)
        self.memberships = _Memberships(self._state)
        self.shares = _Shares(self._state)
        self.inbox = _Inbox(self._state)
        self.tree = InMemoryFolderTree(self._state, self._db.decider)
        self.lifecycle = InMemoryDocumentLifecycle(self._state)
        self.search = InMemorySearchIndex(self._state, self._db.decider)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self._read_only:
            self._db.write_lock.release()

    def emit(self, event: DomainEvent, scopes: Sequence[str]) -> None:
        trace = tracing.current()  # as the PostgreSQL outbox: the cause's trace context
        self._events.append((event, tuple(scopes), None if trace is None else trace.traceparent))

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for _, scopes, _ in self._events for s in scopes))

    async def read_ahead(self, reads: Reads) -> None:
        """Nothing to load: every read is in memory already (units run one at a time)."""

    async def commit(self) -> None:
        if self._read_only or self._committed:
            raise RuntimeError("only an open write unit can commit, and only once")
        for event, scopes, traceparent in self._events:
            body = json.dumps(event.body()).encode()
            self._state.outbox.append(
                OutboxMessage(
                    next(self._db.outbox_ids),
                    event.event_id,
                    event.routing_key,
                    body,
                    scopes,
                    self._db.clock.now(),
                    traceparent=traceparent,
                )
            )
        self._state.outbox = [m for m in self._state.outbox if m.id not in self._db.sent]
        self._db.state = self._state
        self._db.commits += 1
        self._committed = True


class InMemoryUnitOfWorkFactory:
    def __init__(self, db: InMemoryDatabase) -> None:
        self.db = db

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db, read_only=read_only)

    def grouped(self) -> InMemoryUnitOfWork:
        """A unit for a group commit: an ordinary write unit (it defers nothing)."""
        return InMemoryUnitOfWork(self.db)


@dataclass
class _Batch:
    messages: list[OutboxMessage]
    transport: str | None = RABBITMQ
    sent: dict[str | None, set[int]] = field(default_factory=dict)

    async def done(self, ids: Sequence[int], transport: str | None = "") -> None:
        """Marks ``ids`` sent to ``transport`` (the claim's by default; None: to all)."""
        marked = self.transport if transport == "" else transport
        self.sent.setdefault(marked, set()).update(ids)


class InMemoryOutbox:
    """core.ports.Outbox in memory: a mark per transport; gone once all of them have it."""

    def __init__(self, db: InMemoryDatabase, transports: Sequence[str] = (RABBITMQ,)) -> None:
        self._db = db
        self._transports = frozenset(transports)
        self._claimed: set[tuple[str, int]] = set()
        self._marks: dict[int, frozenset[str]] = {}

    @asynccontextmanager
    async def claim(
        self, limit: int, transport: str | None = RABBITMQ
    ) -> AsyncIterator[_Batch]:
        wanted = self._transports if transport is None else frozenset({transport})
        free = [
            replace(m, sent_to=tuple(sorted(self._marks.get(m.id, ()))))
            for m in self._db.state.outbox
            if not any((t, m.id) in self._claimed for t in wanted)
            and not wanted <= self._marks.get(m.id, frozenset())
        ][:limit]
        self._claimed.update((t, m.id) for m in free for t in wanted)
        batch = _Batch(free, transport)
        try:
            yield batch
        finally:
            self._claimed.difference_update((t, m.id) for m in free for t in wanted)
            for marked, ids in batch.sent.items():
                self._mark(self._transports if marked is None else {marked}, ids)

    def _mark(self, transports: frozenset[str] | set[str], ids: set[int]) -> None:
        gone = set()
        for id_ in ids:
            self._marks[id_] = self._marks.get(id_, frozenset()) | transports
            if self._marks[id_] >= self._transports:
                gone.add(id_)
                del self._marks[id_]
        self._db.sent.update(gone)
        self._db.state.outbox = [m for m in self._db.state.outbox if m.id not in gone]


class RecordingEventPublisher:
    """Confirms everything except routing keys listed in ``unroutable``."""

    def __init__(self) -> None:
        self.published: list[OutboxMessage] = []
        self.unroutable: set[str] = set()

    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        routed = [m for m in messages if m.routing_key not in self.unroutable]
        self.published.extend(routed)
        return [m.id for m in routed]


class InMemoryReplyCache:
    """Version-guarded cache-aside store; ``available = False`` simulates an outage."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.values: dict[str, bytes] = {}
        self.until: dict[str, datetime] = {}
        self.clock = clock or (lambda: datetime.now(UTC))
        self.versions: dict[str, int] = {}
        self.available = True
        self.missed: list[str] = []
        self.hits = 0

    def _token(self, scopes: Sequence[str]) -> str:
        return ",".join(f"{s}={self.versions.get(s, 0)}" for s in scopes)

    def _repair(self) -> None:
        for scope in self.missed:
            self.versions[scope] = self.versions.get(scope, 0) + 1
        self.missed.clear()

    async def lookup(self, name: str, scopes: Sequence[str]) -> Lookup:
        if not self.available:
            return Lookup(None, None)
        self._repair()
        token = self._token(scopes)
        key = f"{name}|{token}"
        if key in self.until and self.until[key] <= self.clock():
            self.values.pop(key, None)
        value = self.values.get(key)
        self.hits += value is not None
        return Lookup(value, token)

    async def fill(
        self, name: str, token: str | None, value: bytes, *, until: datetime | None = None
    ) -> None:
        if self.available and token is not None:
            self.values[f"{name}|{token}"] = value
            if until is not None:
                self.until[f"{name}|{token}"] = until

    async def invalidate(self, scopes: Sequence[str]) -> None:
        if not self.available:
            self.missed.extend(scopes)
            return
        self.missed.extend(scopes)
        self._repair()


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.entries: dict[str, AuditEntry] = {}

    async def append(self, entries: Sequence[AuditEntry]) -> int:
        new = {e.event_id: e for e in entries if e.event_id not in self.entries}
        self.entries.update(new)
        return len(new)


class InMemoryMissedInvalidations:
    def __init__(self) -> None:
        self.rows: dict[int, str] = {}
        self._ids = itertools.count(1)

    async def record(self, scopes: Sequence[str]) -> None:
        self.rows.update((next(self._ids), s) for s in scopes)

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        return sorted(self.rows.items())[:limit]

    async def resolved(self, ids: Sequence[int]) -> None:
        for i in ids:
            self.rows.pop(i, None)
