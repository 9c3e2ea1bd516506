"""Paired repetitions: docbus and its raw reference measured side by side, R times over.

On a shared machine one sample of a ratio says little (the upload ratio moved from 0.39
to 0.59 between two runs minutes apart). Rules:

- throughput: each repetition runs every side once, back to back; the order alternates
  (as given on even repetitions, reversed on odd ones: A B, B A, A B), so a machine that
  gets busier or quieter during the run favours neither side;
- a ratio is taken within each repetition, never across them; the reported ratio is the
  median of the R ratios, printed with their minimum and maximum (``<name>``,
  ``<name>_min``, ``<name>_max``); an absolute figure is the median of its R samples;
- latency: the series are interleaved call by call (see ``Scenario.paired_seq``) and then
  cut into R consecutive chunks, each chunk one repetition of the ratio of percentiles.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence

from bench.stats import BenchError, percentile

Side = Callable[[int], Awaitable[Mapping[str, float]]]
"""One side of a repetition: given the repetition's number, its figures."""
Samples = Mapping[str, Sequence[float]]


async def repeat(repetitions: int, sides: Sequence[Side]) -> dict[str, list[float]]:
    """Every side once per repetition, the order reversed on odd ones; samples by key."""
    samples: dict[str, list[float]] = {}
    for rep in range(repetitions):
        for side in sides if rep % 2 == 0 else sides[::-1]:
            for key, value in (await side(rep)).items():
                samples.setdefault(key, []).append(value)
    return samples


def spread(name: str, values: Sequence[float]) -> dict[str, float]:
    """``name`` (the median), ``name_min`` and ``name_max``."""
    if not values:
        raise BenchError(f"{name}: no repetitions")
    return {name: statistics.median(values), f"{name}_min": min(values),
            f"{name}_max": max(values)}


def medians(samples: Samples) -> dict[str, float]:
    """The median of every key's samples (the absolute figures of paired series)."""
    return {key: statistics.median(values) for key, values in samples.items()}


def ratio(name: str, samples: Samples, top: str, bottom: str) -> dict[str, float]:
    """The spread of ``top / bottom`` taken within each repetition."""
    pairs = zip(samples[top], samples[bottom], strict=True)
    return spread(name, [a / b for a, b in pairs if b > 0])


def chunks(values: Sequence[float], count: int) -> list[Sequence[float]]:
    """``values`` cut into ``count`` consecutive parts of (nearly) equal size."""
    size = len(values) / count
    return [values[round(i * size): round((i + 1) * size)] for i in range(count)]


def latency_ratio(
    name: str, ours: Sequence[float], raw: Sequence[float], pct: float, repetitions: int
) -> dict[str, float]:
    """The spread of percentile ``pct`` of ``ours`` over that of ``raw``, chunk by chunk.

    ``ours`` and ``raw`` are interleaved series of the same length (call i of one right
    next to call i of the other), so chunk k of both saw the same stretch of the run.
    """
    if len(ours) != len(raw):
        raise BenchError(f"{name}: {len(ours)} samples against {len(raw)}")
    parts = zip(chunks(ours, repetitions), chunks(raw, repetitions), strict=True)
    return spread(name, [percentile(a, pct) / percentile(b, pct) for a, b in parts])
