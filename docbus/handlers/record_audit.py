"""RecordAuditEntry: every event lands once in the append-only audit log.

- Events arrive at least once; the log de-duplicates them by ``event_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

from docbus.core.ports import AuditEntry, AuditLog


class RecordAuditEntry:
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    async def __call__(self, entries: Sequence[AuditEntry]) -> int:
        """Append the entries; return how many were new."""
        return await self._log.append(entries)
