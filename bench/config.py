"""How big a benchmark run is: the default (``make bench``), ``--full`` and the smoke test."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Counts of every measurement; every loop is bounded by these and by ``phase_timeout``."""

    mode: str = "default"
    repetitions: int = 3
    """Paired repetitions behind every ratio (its median, minimum and maximum)."""
    throughput_repetitions: int = 5
    """Paired repetitions behind upload_ratio and share_ratio: on the shared 2-core machine
    one pair's ratio ranges over 0.30-0.55 within a run (the raw loop alone 1,400-3,000
    msgs/s), so their median needs more pairs than the others. Five: seven moved the
    medians no less and took a default run to 265-293 s, near the 5 minutes it must stay
    under."""
    in_flight: int = 64
    """Requests in flight for the "at 64 in flight" figures."""
    bulk_in_flight: int = 256
    """Publishers in flight for the throughput runs (commands queue up behind prefetch)."""
    prefetch: int = 64
    # The counts of the paired series are per repetition (three by default): the figures
    # are medians of repetitions of this size.
    raw_messages: int = 2000
    rpc_sequential: int = 300
    rpc_concurrent: int = 2000
    faststream_requests: int = 400
    uploads: int = 2000
    """As many as the raw loop's messages: the same start-up and tail in both figures."""
    shares: int = 2000
    query_sequential: int = 300
    """Pairs of the sequential series, all repetitions together (cut into chunks)."""
    query_concurrent: int = 1000
    query_miss_concurrent: int = 600
    folder_sizes: tuple[int, ...] = (100, 10_000, 100_000)
    size_samples: int = 100
    stored_documents: int = 200_000
    stored_uploads: int = 1000
    memory_commands: int = 8000
    two_worker_uploads: int = 1000
    warmup: int = 200
    subtree_sizes: tuple[int, int] = (100, 100_000)
    """Documents in the small and the large subtree of the subtree operations."""
    subtree_folders: int = 100
    """Subfolders of each subtree's root."""
    subtree_samples: int = 20
    """Rounds of the subtree operations (each op once per subtree and round)."""
    share_sizes: tuple[int, int] = (100, 100_000)
    """Documents in the small and the large shared folder (``bench.sharing``)."""
    share_depth: int = 5
    """Levels between the shared folder and the folder listed (the share is this far up)."""
    share_samples: int = 30
    """Rounds of the sharing measurements (a listing, a share, an unshare per chain)."""
    share_queries: int = 300
    """access.explain and shared.with_me calls, each beside a raw RPC call."""
    search_documents: int = 100_000
    """Documents of the search phase's org (DOCBUS_BENCH_SEARCH_DOCS or --search-docs wins)."""
    search_samples: int = 150
    """Pairs (search, raw RPC) per reader of the search phase."""
    phase_timeout: float = 120.0

    @classmethod
    def default(cls) -> BenchConfig:
        return cls()

    @classmethod
    def full(cls) -> BenchConfig:
        """The issue's sizes: 1M documents stored, 100,000 commands for the memory figure."""
        return replace(
            cls(), mode="full", uploads=10_000, shares=10_000, stored_documents=1_000_000,
            stored_uploads=5000, memory_commands=100_000, two_worker_uploads=5000,
            rpc_concurrent=10_000, raw_messages=10_000, query_concurrent=5000,
            query_miss_concurrent=3000, size_samples=300, subtree_samples=60,
            share_samples=90, share_queries=1000, search_documents=1_000_000,
            search_samples=300, phase_timeout=900.0,
        )

    @classmethod
    def smoke(cls) -> BenchConfig:
        """Tiny: every phase runs, in seconds (for the test suite; numbers mean little)."""
        return replace(
            cls(), mode="smoke", bulk_in_flight=64, raw_messages=100, rpc_sequential=30,
            rpc_concurrent=100, faststream_requests=64, uploads=100, shares=100,
            query_sequential=20, query_concurrent=64, query_miss_concurrent=64,
            folder_sizes=(10, 100, 1000), size_samples=10, stored_documents=3000,
            stored_uploads=100, memory_commands=400, two_worker_uploads=100, warmup=20,
            subtree_sizes=(100, 1000), subtree_folders=10, subtree_samples=6,
            share_sizes=(100, 1000), share_samples=6, share_queries=20,
            search_documents=2000, search_samples=20, phase_timeout=60.0,
            throughput_repetitions=3,
        )

    @property
    def admin_readers(self) -> int:
        """Distinct readers needed so that every "miss" read has a key never seen before."""
        return (
            self.query_sequential + self.query_miss_concurrent * self.repetitions
            + self.size_samples * len(self.folder_sizes) + 200
        )
