"""``make bench``: every benchmark section, one table, bench/RESULTS.md and a latency plot.

Usage: python -m bench.run [--quick] [--only SECTION ...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import cache_hit, concurrency, daprd_ratio, miss_path, pii_section, startup
from bench.common import RESULTS, Row, Samples, table, write_results

PLOT = RESULTS.parent / "latency.png"


def plot(samples: dict[str, Samples], path: Path) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    names = list(samples)
    fig, ax = plt.subplots(figsize=(9, 1 + 0.6 * len(names)))
    ax.boxplot(
        [[v * 1e3 for v in samples[n].values] for n in names],
        orientation="horizontal",
        tick_labels=names,
        showfliers=False,
        whis=(1, 99),
    )
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale); box: p25-p75, whiskers: p1-p99")
    ax.set_title("pyllm single-stream latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    rounds = 300 if args.quick else 2000
    total = 2000 if args.quick else 10000
    wanted = set(
        args.only or ["cache", "miss", "daprd", "concurrency", "coalescing", "pii", "start"]
    )
    rows: list[Row] = []
    notes: list[str] = []
    samples: dict[str, Samples] = {}
    if "cache" in wanted:
        r, s = await cache_hit.run(rounds=rounds, total=total)
        rows += r
        samples |= s
    if "miss" in wanted:
        r, s = await miss_path.run(rounds=rounds, total=total // 2)
        rows += r
        samples |= s
    if "daprd" in wanted:
        r, s = await daprd_ratio.run(rounds=rounds // 2)
        rows += r
        samples |= s
    if "concurrency" in wanted:
        rows += await concurrency.run_concurrency()
    if "coalescing" in wanted:
        rows += await concurrency.run_coalescing()
    if "pii" in wanted:
        rows += await pii_section.run(runs=20 if args.quick else 60)
    if "start" in wanted:
        rows += startup.run(starts=3 if args.quick else 5)
    print(table(rows))
    if samples:
        plot(samples, PLOT)
    write_results(rows, notes, PLOT if samples else None)
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
