"""Loading speed and memory: a synthetic ml-20m style ratings.csv of N rows through the MovieLens loader.

    .venv/bin/python bench/load.py --rows 20000000

Each size loads in a fresh subprocess so that peak memory belongs to that load alone.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from common import ROOT, print_table, write_results


def make_ratings(folder: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items = max(10, rows // 150), max(10, rows // 700)
    # Zipf-like item popularity, as in real rating logs.
    weights = 1.0 / np.arange(1, n_items + 1) ** 0.9
    items = rng.choice(n_items, size=rows, p=weights / weights.sum()) + 1
    frame = pd.DataFrame({"userId": rng.integers(1, n_users + 1, rows), "movieId": items,
                          "rating": rng.integers(1, 11, rows) / 2,
                          "timestamp": rng.integers(800_000_000, 1_500_000_000, rows)})
    frame.to_csv(folder / "ratings.csv", index=False)


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
from recsys.data import load_dataset
ds = load_dataset({folder!r})
print(json.dumps({{"seconds": time.perf_counter() - start, "users": ds.n_users, "items": ds.n_items,
                   "interactions": ds.n_interactions, "duplicates": ds.report.duplicates_dropped,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 20_000_000])
    args = p.parse_args()
    results = []
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            make_ratings(Path(tmp), rows)
            made = time.perf_counter() - t
            size = (Path(tmp) / "ratings.csv").stat().st_size / 2**20
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), folder=tmp)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append({"rows": rows, "file_mib": round(size, 1), "load_seconds": round(r["seconds"], 2),
                            "peak_rss_mib": round(r["peak_rss_mib"]), "users": r["users"],
                            "items": r["items"], "duplicates_dropped": r["duplicates"],
                            "generate_seconds": round(made, 1)})
    print_table(results, ["rows", "file_mib", "load_seconds", "peak_rss_mib", "users", "items",
                          "duplicates_dropped"])
    write_results("load", {"results": results})


if __name__ == "__main__":
    main()
