"""FAISS index speed, recall and size: N synthetic clustered vectors, exact vs IVF vs IVF-PQ vs HNSW.

    .venv/bin/python bench/index.py [--n 1000000] [--dim 64]

Reports build seconds, single-query p50 / p99 latency, batched queries per second, recall@10 against
exact search and the serialised size (IVF-PQ: 16-byte codes instead of 256-byte vectors); writes bench/results/index.json. Target: an approximate index with recall@10 >= 0.95 at
p50 <= 2 ms per query on 2 cores.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import print_table, write_results

from recsys.index import ItemIndex


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(10, n // 1000), dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):  # in chunks: the noise for 1M × 64 at once is 0.5 GB of float64
        hi = min(lo + 100_000, n)
        out[lo:hi] = centres[rng.integers(0, len(centres), hi - lo)] + 0.35 * rng.normal(
            size=(hi - lo, dim)).astype(np.float32)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--queries", type=int, default=1000)
    args = p.parse_args()
    vectors = clustered(args.n, args.dim)
    rng = np.random.default_rng(1)
    queries = vectors[rng.choice(args.n, args.queries, replace=False)] + 0.05 * rng.normal(
        size=(args.queries, args.dim)).astype(np.float32)
    rows, truth = [], None
    for kind in ("exact", "ivf", "ivfpq", "hnsw"):
        start = time.perf_counter()
        index = ItemIndex(kind=kind).build(vectors)
        build = time.perf_counter() - start
        single = []
        for q in queries[:200]:
            t = time.perf_counter()
            index.search(q, 10)
            single.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ids, _ = index.search(queries, 10)
        qps = len(queries) / (time.perf_counter() - t)
        if truth is None:
            truth = ids
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth)]))
        rows.append({"index": kind, "n": args.n, "build_s": build,
                     "p50_ms": float(np.percentile(single, 50)), "p99_ms": float(np.percentile(single, 99)),
                     "batch_qps": qps, "recall@10": recall, "size_mib": index.size_bytes / 2**20})
        print(f"  {kind}: built in {build:.1f} s, recall@10 {recall:.3f}", flush=True)
    print_table(rows, ["index", "n", "build_s", "p50_ms", "p99_ms", "batch_qps", "recall@10", "size_mib"])
    write_results("index", {"dim": args.dim, "results": rows})


if __name__ == "__main__":
    main()
