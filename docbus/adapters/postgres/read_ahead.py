"""A grouped unit's read-ahead: what the group's use cases declared (core.reads), one
statement per kind of read for the whole group, into the unit's GroupState.

The roles are looked up per key with scalar subqueries: joined to the unnest() rows
instead, the planner probed memberships by org_id alone and filtered by user_id (every
member of the org, per document: 31 ms a group with 6,400 members, measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from docbus.adapters.postgres.repositories import (
    LIVE_FOLDER,
    TRASH_COLUMNS,
    decide_documents,
    folder_role,
    with_access,
)
from docbus.adapters.postgres.tree_sql import (
    FOLDER_COLUMNS,
    LIVE_SHARE,
    inherited_role,
    inherited_until,
)
from docbus.adapters.postgres.unit_state import Flushing, GroupState, Pair
from docbus.core.decisions import AccessDecider
from docbus.core.reads import Reads

# Contract v2: folders in the trash do not exist for these reads, and documents carry
# their trash state, exactly as the plain repositories' statements read them.
FOLDER_ROLES = f"""
SELECT p.folder_id AS key, p.user_id AS reader, {FOLDER_COLUMNS},
    (SELECT m.role FROM memberships m WHERE m.org_id = f.org_id AND m.user_id = p.user_id)
        AS role
FROM unnest($1::text[], $2::text[]) AS p(folder_id, user_id)
LEFT JOIN folders f ON f.folder_id = p.folder_id AND {LIVE_FOLDER}
"""  # noqa: S608 - constants only
ACCESS = f"""
SELECT p.user_id AS reader, d.doc_id, d.org_id, d.folder_id, d.owner_id, d.version, d.name,
    d.mime_type, d.blob_uri, d.size_bytes, d.sha256, d.tags, d.created_at, d.updated_at,
    {TRASH_COLUMNS},
    (SELECT m.role FROM memberships m WHERE m.org_id = d.org_id AND m.user_id = p.user_id)
        AS org_role,
    s.role AS doc_role, s.expires_at AS doc_until,
    {inherited_role('d.folder_id', 'p.user_id')} AS folder_role,
    {inherited_until('d.folder_id', 'p.user_id')} AS folder_until
FROM unnest($1::text[], $2::text[]) AS p(doc_id, user_id)
JOIN documents d ON d.doc_id = p.doc_id
LEFT JOIN shares s ON s.doc_id = d.doc_id AND s.user_id = p.user_id AND {LIVE_SHARE}
ORDER BY d.doc_id
"""  # noqa: S608 - constants only
LOCKED_ACCESS = ACCESS + " FOR UPDATE OF d"
EXISTING = "SELECT doc_id FROM documents WHERE doc_id = ANY($1::text[])"


async def read_ahead(
    conn: Flushing, state: GroupState, reads: Reads, decider: AccessDecider
) -> None:
    """Locks first (in doc_id order, so that two groups never deadlock), then the rest."""
    await _access(conn, state, reads.locked_access, decider, lock=True)
    await _folder_roles(conn, state, reads.folder_roles)
    await _existing(conn, state, reads.new_documents)
    await _access(conn, state, reads.document_roles, decider, lock=False)


async def _folder_roles(conn: Flushing, state: GroupState, pairs: Sequence[Pair]) -> None:
    wanted = _unseen(pairs, state.folder_roles)
    if wanted:
        for row in await conn.fetch(FOLDER_ROLES, *_columns(wanted)):
            state.folder_roles[row["key"], row["reader"]] = folder_role(row)


async def _existing(conn: Flushing, state: GroupState, doc_ids: Sequence[str]) -> None:
    wanted = [d for d in doc_ids if d not in state.exists]
    if wanted:
        found = {row[0] for row in await conn.fetch(EXISTING, wanted)}
        for doc_id in wanted:
            state.exists[doc_id] = doc_id in found


async def _access(
    conn: Flushing, state: GroupState, pairs: Sequence[Pair], decider: AccessDecider, *,
    lock: bool,
) -> None:
    """The documents with the readers' access (their org role and document role), which
    also answers memberships.role_of and shares.role_of for those pairs; the decider
    judges the group's accesses in one call."""
    wanted = [p for p in pairs if p not in state.access or (lock and not state.access[p][2])]
    if not wanted:
        return
    rows = await conn.fetch(LOCKED_ACCESS if lock else ACCESS, *_columns(wanted))
    found = {(row["doc_id"], row["reader"]): row for row in rows}
    gathered = [with_access(found.get(pair), pair[1]) for pair in wanted]
    decided = await decide_documents(decider, gathered)
    for (doc_id, user_id), (document, access) in zip(wanted, decided, strict=True):
        state.access[doc_id, user_id] = (document, access, lock)
        state.exists[doc_id] = document is not None
        if document is not None:
            state.memberships[document.org_id, user_id] = access.org_role
            state.shares[doc_id, user_id] = access.doc_role


def _unseen(pairs: Sequence[Pair], known: Mapping[Pair, object]) -> list[Pair]:
    return [pair for pair in pairs if pair not in known]


def _columns(pairs: Sequence[Pair]) -> tuple[list[str], list[str]]:
    return [a for a, _ in pairs], [b for _, b in pairs]
