"""What deciding access with Cerbos costs (DOCBUS_ACCESS_DECIDER=cerbos), against the
built-in decider, in one run: per command and per listing.

- A Cerbos server of the run's own (devtools.embedded_cerbos, the binary ``make tools``
  fetched) serves deploy/cerbos/policies.
- One worker at a time, the other stopped: the built-in one and one deciding with
  Cerbos, in paired repetitions (bench.paired: the order alternates, ratios are taken
  within each repetition; the figure is their median, with min and max).
- command: ``document.rename`` by the document's owner (a ``write`` decision), one at a
  time (p50, ms) and at 64 in flight (renames/s).
- listing: ``folder.list`` (first page) by a member who holds viewer shares on a few of
  a folder's documents, each by a reader never seen before (a cache miss), one at a time
  (p50, ms): with Cerbos, one PlanResources call and its condition in the SQL.
- ratios, Cerbos over built-in: ``cerbos_command_p50_ratio`` and ``cerbos_list_p50_ratio``
  (above 1: slower), ``cerbos_command_64_ratio`` (below 1: fewer per second).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from bench.docbus_bench import ORG, OWNER
from bench.paired import Side, medians, ratio, repeat
from bench.seed import seed_folder
from bench.stats import BenchError
from docbus.devtools.embedded_cerbos import EmbeddedCerbos, cerbos_binary, start_cerbos

if TYPE_CHECKING:
    from bench.docbus_bench import Scenario
    from bench.infra import WorkerProcess

MODES = ("builtin", "cerbos")
SHARES_PER_READER = 3
SEED_READERS = """
WITH r AS (SELECT $2 || g AS user_id, g FROM generate_series(1, $3::int) AS g),
    m AS (INSERT INTO memberships (org_id, user_id, role) SELECT $1, user_id, 'member' FROM r)
INSERT INTO shares (doc_id, user_id, role)
SELECT $4 || (((r.g * 7 + k) % $5::int) + 1), r.user_id, 'viewer'
FROM r, generate_series(1, $6::int) AS k
"""


class _Sides:
    """The run's two workers, one running at a time."""

    def __init__(self, s: Scenario, cerbos: EmbeddedCerbos) -> None:
        self.s, self.cerbos = s, cerbos
        self.running: dict[str, WorkerProcess] = {}

    async def only(self, mode: str) -> None:
        for other in [m for m in self.running if m != mode]:
            await asyncio.to_thread(self.running.pop(other).stop)
        for worker in self.s.stack.workers:  # whatever an earlier phase left running
            if mode not in self.running and worker not in self.running.values():
                await asyncio.to_thread(worker.stop)
        if mode not in self.running:
            env = {} if mode == "builtin" else {
                "DOCBUS_ACCESS_DECIDER": "cerbos", "DOCBUS_CERBOS_ADDRESS": self.cerbos.address}
            self.running[mode] = await asyncio.to_thread(self.s.stack.start_worker, **env)


async def cerbos_cost(s: Scenario) -> dict[str, float]:
    binary = cerbos_binary()
    if binary is None:
        raise BenchError("no Cerbos binary: run `make tools` (it fetches .tools/cerbos)")
    c = s.config
    size = c.folder_sizes[1]
    folder = await s.folder("cerbos")
    await seed_folder(s.stack.pg_url, folder, size, "cb-", org_id=ORG, owner_id=OWNER)
    listings = max(6, c.query_sequential // 3)
    readers = await _seed_readers(s, size, listings * c.repetitions * len(MODES))
    cerbos = await asyncio.to_thread(start_cerbos, binary)
    sides = _Sides(s, cerbos)
    try:
        setting = _Setting(s, sides, folder, size, readers, listings)
        samples = await repeat(c.repetitions, [_side(setting, mode) for mode in MODES])
        await sides.only("builtin")
    finally:
        await asyncio.to_thread(cerbos.stop)
    return (
        medians(samples)
        | ratio("cerbos_command_p50_ratio", samples, "cerbos_rename_p50_ms",
                "builtin_rename_p50_ms")
        | ratio("cerbos_command_64_ratio", samples, "cerbos_rename_64_per_s",
                "builtin_rename_64_per_s")
        | ratio("cerbos_list_p50_ratio", samples, "cerbos_list_p50_ms", "builtin_list_p50_ms")
        | {"cerbos_list_folder_documents": float(size)}
    )


@dataclass(frozen=True)
class _Setting:
    s: Scenario
    sides: _Sides
    folder: str
    size: int
    readers: list[str]
    listings: int
    """Renames and listings of each sequential series."""


def _side(setting: _Setting, mode: str) -> Side:
    s, folder, size, readers, listings = (
        setting.s, setting.folder, setting.size, setting.readers, setting.listings)

    async def side(rep: int) -> dict[str, float]:
        await setting.sides.only(mode)
        first = (rep * len(MODES) + MODES.index(mode)) * listings
        mine = readers[first: first + listings]

        async def rename(n: int) -> None:
            await s.client.rename_document(f"cb-1-{n % size + 1}", OWNER, f"{mode}{rep}-{n}.pdf")

        async def listing(reader: str) -> None:
            if await s.list_first_page(folder, reader) == 0:
                raise BenchError(f"{reader} listed nothing")

        seq = await s.seq(rename, range(listings), f"{mode} renames")
        par = await s.par(rename, range(s.config.query_concurrent), f"{mode} renames at 64")
        lists = await s.seq(listing, mine, f"{mode} listings")
        return {f"{mode}_rename_p50_ms": seq.p50_ms, f"{mode}_rename_64_per_s": par.rate,
                f"{mode}_list_p50_ms": lists.p50_ms}

    return side


async def _seed_readers(s: Scenario, size: int, count: int) -> list[str]:
    """Members ``cb-reader-<n>``, each with viewer shares on a few of the folder's docs."""
    conn = await asyncpg.connect(s.stack.pg_url)
    try:
        await conn.execute(SEED_READERS, ORG, "cb-reader-", count, "cb-1-", size,
                           SHARES_PER_READER)
        await conn.execute("ANALYZE shares, memberships")
    finally:
        await conn.close()
    return [f"cb-reader-{n}" for n in range(1, count + 1)]
