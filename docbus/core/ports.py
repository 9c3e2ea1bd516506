"""Ports: what the use cases need from the outside world, by role.

Adapters implement these (PostgreSQL, Valkey, RabbitMQ, in-memory fakes); the contract
tests in tests/integration run the same checks over the fake and the real adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Self

from docbus.core.access import Grant
from docbus.core.cursor import Cursor
from docbus.core.entities import Document, DocumentVersion, Folder, Membership, Share, ShareGrant
from docbus.core.events import DomainEvent
from docbus.core.idempotency import IdempotencyKey, StoredReply
from docbus.core.lifecycle import DocumentLifecycle, FolderAccess, FolderTree
from docbus.core.policies import Access
from docbus.core.reads import Reads
from docbus.core.search import SearchFilter, SearchHit, SearchPosition
from docbus.core.sharing import ExpiredGrant, SharedItem, SharedPosition
from docbus.core.values import OrgRole, Role

Json = dict[str, Any]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A fresh unique identifier (event ids)."""
        ...


class FolderRepository(Protocol):
    async def get(self, folder_id: str) -> Folder | None:
        """The folder, or None."""
        ...

    async def add(self, folder: Folder) -> None:
        """Store a new folder; raise FolderIdTaken or FolderNameTaken on a clash."""
        ...

    async def get_with_role(
        self, folder_id: str, user_id: str
    ) -> tuple[Folder | None, OrgRole | None]:
        """The folder and the user's role in the folder's org, read together."""
        ...


class DocumentRepository(Protocol):
    async def get(self, doc_id: str) -> Document | None:
        """The document at its latest version, or None."""
        ...

    async def lock(self, doc_id: str) -> Document | None:
        """Like get, and hold the document against concurrent writers until the end of the unit."""
        ...

    async def get_with_access(
        self, doc_id: str, user_id: str, *, lock: bool = False
    ) -> tuple[Document | None, Access]:
        """The document (locked like lock() if asked) and what the user holds on it, read
        together (no access at all when the document does not exist)."""
        ...

    async def add(
        self, document: Document, version: DocumentVersion, shares: Sequence[Share] = ()
    ) -> bool:
        """Store a new document, its first version and its first shares (of this document;
        those without a role are skipped), together; False (and nothing stored) if doc_id
        exists."""
        ...

    async def add_version(self, document: Document, version: DocumentVersion) -> None:
        """Store the next version and make ``document`` (already revised) current."""
        ...

    async def versions(self, doc_id: str) -> list[DocumentVersion]:
        """Every version, oldest first."""
        ...

    async def page(
        self, folder_id: str, reader: FolderAccess, *, limit: int, after: Cursor | None
    ) -> list[Document]:
        """Up to ``limit`` documents of the folder, newest ``updated_at`` first (ties: doc_id
        descending), strictly after ``after``; only those ``reader`` (their access to the
        folder, from ``tree.find``) may read, as the unit's AccessDecider filters them
        (``readable``: once per listing, never document by document)."""
        ...


class MembershipRepository(Protocol):
    async def role_of(self, org_id: str, user_id: str) -> OrgRole | None:
        """The user's role in the org, or None for a non-member."""
        ...

    async def put(self, membership: Membership) -> OrgRole | None:
        """Set the role (None removes the membership); return the role held before.

        Concurrent puts for the same (org, user) behave as if run one after the other."""
        ...


class ShareRepository(Protocol):
    """Document shares; an expired share counts for nothing here, removed yet or not."""

    async def role_of(self, doc_id: str, user_id: str) -> Role | None:
        """The user's live role on the document, or None."""
        ...

    async def get(self, doc_id: str, user_id: str) -> Share | None:
        """The user's live share on the document (with who made it, when, until when)."""
        ...

    async def put(
        self, doc_id: str, user_id: str, role: Role | None, grant: ShareGrant | None = None
    ) -> None:
        """Grant, replace (role, with who grants it until when) or revoke (None) the user's
        share on the document."""
        ...

    async def owners(self, doc_id: str) -> int:
        """How many users hold a live owner share on the document."""
        ...

    async def grants(self, doc_id: str, user_id: str | None = None) -> list[tuple[str, Grant]]:
        """(user_id, grant) for every live grant through which a member of the document's
        org holds a role on it (only ``user_id``'s if given): document shares, folder
        shares on its folder and above, and an ``org_admin`` owner grant per admin."""
        ...

    async def with_me(
        self, org_id: str, user_id: str, *, limit: int, after: SharedPosition | None
    ) -> list[SharedItem]:
        """Up to ``limit`` grants made to the user by someone else in the org (core.sharing:
        live, on items not in the trash), newest first, strictly after ``after``."""
        ...

    async def try_lock_expiry_sweeper(self) -> bool:
        """Become the one expiry sweeper until the end of the unit; False if another unit
        is sweeping."""
        ...

    async def expired(self, now: datetime, limit: int) -> list[ExpiredGrant]:
        """Up to ``limit`` stored grants (document and folder shares) whose expires_at is at
        or before ``now``, oldest expiry first, locked (skipping any a command holds)."""
        ...

    async def remove(self, grant: ExpiredGrant) -> None:
        """Delete the (locked) expired grant."""
        ...

    async def until(self, user_id: str, org_id: str) -> datetime | None:
        """When the first of the user's live grants in the org (document and folder shares)
        expires: a listing over them holds until then at most."""
        ...


class SearchIndex(Protocol):
    """Documents found by words and filters, as a reader may see them (document.search)."""

    async def search(
        self, org_id: str, reader_id: str, *, org_role: OrgRole, search: SearchFilter,
        limit: int, after: SearchPosition | None,
    ) -> list[SearchHit]:
        """Up to ``limit`` documents of the org that pass ``search`` (core.search), not in
        the trash nor below a trashed folder, that the reader (of ``org_role`` in the org)
        may read now, as the unit's AccessDecider filters them (``anywhere``, once per
        search: contract v2 section 1), best first, strictly after ``after``; reflects
        every committed write."""
        ...


class Inbox(Protocol):
    """Commands' replies by idempotency key (see core.idempotency)."""

    async def record(self, key: IdempotencyKey, reply: bytes, scopes: Sequence[str]) -> bool:
        """Keep the command's reply (its exact bytes); False if the key's slot (sender,
        message_id) was taken already, or its message_id by a row from before keys were
        scoped (by a concurrent delivery too: the unit must then be rolled back)."""
        ...

    async def find(self, key: IdempotencyKey) -> StoredReply | None:
        """The row that took the key's slot (or its message_id, from before keys were
        scoped), or None."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; rolls back on exit unless commit() was called."""

    # Read-only properties, so that an adapter may hold its own repository types.
    @property
    def folders(self) -> FolderRepository: ...
    @property
    def documents(self) -> DocumentRepository: ...
    @property
    def memberships(self) -> MembershipRepository: ...
    @property
    def shares(self) -> ShareRepository: ...
    @property
    def inbox(self) -> Inbox: ...
    @property
    def tree(self) -> FolderTree: ...
    @property
    def lifecycle(self) -> DocumentLifecycle: ...
    @property
    def search(self) -> SearchIndex: ...

    def emit(self, event: DomainEvent, scopes: Sequence[str]) -> None:
        """Queue an event for the outbox (written at commit) with the cache scopes it changed."""
        ...

    @property
    def scopes(self) -> tuple[str, ...]:
        """Cache scopes changed so far in this unit (those of the emitted events)."""
        ...

    async def commit(self) -> None:
        """Make everything in the unit durable, events included; raise Unavailable if unsure."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit; read-only units may skip the transaction altogether."""
        ...


class GroupedUnit(UnitOfWork, Protocol):
    """A unit that runs several commands, one after the other (group commit).

    Every read answers what a unit of its own would answer at that point. It may load
    declared reads ahead, and defer writes (the inbox's check of a key included) until a
    later read could see them, or until commit; a surprise found then (a key or a row
    taken by a concurrent transaction) fails the commit, and the group is run command
    by command."""

    async def read_ahead(self, reads: Reads) -> None:
        """Load what the group's commands declared they will read (see core.reads)."""
        ...


GroupedUnitFactory = Callable[[], GroupedUnit]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cache read: the value if it was there, and the token a later fill must carry."""

    value: bytes | None
    token: str | None


class ReplyCache(Protocol):
    """Cache-aside store of encoded query replies, guarded against stale fills."""

    async def lookup(self, name: str, scopes: Sequence[str]) -> Lookup:
        """The cached value, and a token naming the scope versions it was looked up under.
        Never raises: an unreachable cache is a miss with no token."""
        ...

    async def fill(
        self, name: str, token: str | None, value: bytes, *, until: datetime | None = None
    ) -> None:
        """Store a value loaded after lookup(); it is visible only while none of its scopes
        has been invalidated since that lookup, and never at or after ``until`` (a grant
        it depended on expires then). Never raises."""
        ...

    async def invalidate(self, scopes: Sequence[str]) -> None:
        """Make every value depending on any of the scopes unreachable. An invalidation
        that cannot reach the cache is recorded (MissedInvalidations) and applied before
        the cache is trusted again; raise Unavailable only if it could be neither."""
        ...


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    event_id: str
    routing_key: str
    body: bytes
    scopes: tuple[str, ...]
    created_at: datetime
    sent_to: tuple[str, ...] = ()
    """The transports that already confirmed it (only when several are configured)."""
    traceparent: str | None = None
    """W3C trace context of the command that emitted it, when there was one."""


RABBITMQ = "rabbitmq"
VALKEY_STREAMS = "valkey-streams"
EVENT_TRANSPORTS = (RABBITMQ, VALKEY_STREAMS)
"""The event transports a relay can publish to (DOCBUS_EVENT_TRANSPORTS)."""


class OutboxBatch(Protocol):
    messages: list[OutboxMessage]

    async def done(self, ids: Sequence[int], transport: str | None = "") -> None:
        """Mark these events sent to ``transport`` (by default the claim's; only after it
        confirmed them); an event every configured transport confirmed is gone for good.
        ``None``: every transport has them now (they are gone)."""
        ...


class Outbox(Protocol):
    def claim(
        self, limit: int, transport: str | None = RABBITMQ
    ) -> AbstractAsyncContextManager[OutboxBatch]:
        """Up to ``limit`` events not yet sent to ``transport`` (``None``: to some
        transport), oldest first, held so that no other relay takes them; on exit the
        ``done`` ones are marked (and gone once every transport has them) and the rest are
        given back (also when the claimer dies)."""
        ...


class EventPublisher(Protocol):
    async def publish(self, messages: Sequence[OutboxMessage]) -> list[int]:
        """Publish persistently with confirms; return the ids the broker confirmed as routed."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    event_id: str
    type: str
    org_id: str
    occurred_at: datetime
    routing_key: str
    body: Json


class AuditLog(Protocol):
    async def append(self, entries: Sequence[AuditEntry]) -> int:
        """Append entries not seen before (by event_id); return how many were new."""
        ...


class MissedInvalidations(Protocol):
    """Durable record of invalidations that could not reach the cache (shared by workers)."""

    async def record(self, scopes: Sequence[str]) -> None:
        """Remember scopes whose invalidation failed."""
        ...

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        """(id, scope) pairs still to be applied, oldest first."""
        ...

    async def resolved(self, ids: Sequence[int]) -> None:
        """Forget these, once the cache applied them."""
        ...
