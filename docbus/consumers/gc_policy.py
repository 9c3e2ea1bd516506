"""The worker's garbage collector: what start-up built is frozen, young collections rarer.

Reference counting frees almost everything a message allocates; CPython's cyclic
collector only has to find cycles (an exception and its traceback, a task and its
future...). With CPython's default thresholds (700, 10, 10) it cost the worker a fifth
of its CPU in the upload bench (``gc.callbacks``, docs/performance.md, session 5): a
young collection every 700 allocations, and full collections that walked the ~134,000
objects the imported libraries and the object graph consist of (some 70 ms each, an
event-loop pause every time), although none of them ever becomes garbage.

- ``gc.freeze()`` once the graph is built: those objects move to the permanent
  generation, and full collections walk only what was created since;
- young collections every 10,000 allocations instead of 700 (``DOCBUS_GC_THRESHOLDS``):
  fewer, slightly longer ones; a cycle waits a little longer to be freed.

Measured on the bench machine: GC 21% -> 4% of the worker's CPU (most of it the threshold;
the freeze takes away the long pauses of the rare full collection), worker CPU per upload
about -20%, no change of the RSS figures (bench ``worker memory over K commands``). The
price of the freeze: start-up objects that later become cyclic garbage (the first AMQP
connection, after a reconnection) are never freed (docs/decisions.md).
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger("docbus.gc")


def settle(thresholds: tuple[int, int, int], *, freeze: bool = True) -> None:
    """Collect once, freeze what survives (if ``freeze``), then apply ``thresholds``."""
    gc.collect()
    if freeze:
        gc.freeze()
    gc.set_threshold(*thresholds)
    log.debug("gc_settled", frozen=gc.get_freeze_count(), thresholds=thresholds)
