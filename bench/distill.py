"""Distillation on ml-100k: teacher vs distilled student vs the same student trained without the teacher.

    .venv/bin/python bench/distill.py [--models gpt bert] [--seeds 3] [--max-seconds 300]

For each kind and seed: the teacher (default hyper-parameters), the student (``<kind>-student``: a
under a quarter of the teacher's transformer parameters) distilled from that teacher, and the same student with
``distill_weight=0``; every fit under the same wall-clock budget as bench/models.py gives the
transformers. Reports NDCG@10 / HR@10 (leave-one-out by time, full ranking, test split; mean and spread
over seeds), transformer and total parameters, bytes on disk, fit seconds and recommend latency.
Writes bench/results/distill.json.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from common import RESULTS, command_line, print_table, write_results
from models import recommend_latency_ms

from recsys.data import load_dataset
from recsys.evaluate import evaluate
from recsys.models import get_model
from recsys.split import leave_one_out


def parameters(model) -> tuple[int, int]:
    """(transformer blocks' parameters, all parameters)."""
    module = model.module_
    return (sum(p.numel() for p in module.blocks.parameters()),
            sum(p.numel() for p in module.parameters()))


def disk_bytes(model) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "m")
        return sum(f.stat().st_size for f in folder.iterdir())


def measure(role: str, model, split, fit_seconds: float) -> dict:
    metrics = evaluate(model, split.test, split.train, k=(10,)).metrics
    blocks, total = parameters(model)
    p50, _ = recommend_latency_ms(model, split)
    return {"role": role, "ndcg@10": metrics["ndcg@10"], "hr@10": metrics["hr@10"],
            "transformer_params": blocks, "params": total, "bytes": disk_bytes(model),
            "fit_s": fit_seconds, "epochs": len(model.history_), "rec_ms_p50": p50}


def run(kind: str, seeds: int, max_seconds: float, split) -> list[dict]:
    runs = {"teacher": [], "student": [], "student without teacher": []}
    for seed in range(seeds):
        start = time.perf_counter()
        teacher = get_model(kind, seed=seed, max_seconds=max_seconds).fit(split.train, valid=split.valid)
        runs["teacher"].append(measure("teacher", teacher, split, time.perf_counter() - start))
        for role, weight in (("student", None), ("student without teacher", 0.0)):
            params = {"seed": seed, "max_seconds": max_seconds}
            if weight is not None:
                params["distill_weight"] = weight
            start = time.perf_counter()
            student = get_model(f"{kind}-student", **params).fit(
                split.train, valid=split.valid, teacher=teacher if weight is None else None)
            runs[role].append(measure(role, student, split, time.perf_counter() - start))
        print(f"  {kind} seed {seed}: " + ", ".join(f"{r} {v[-1]['ndcg@10']:.4f}" for r, v in runs.items()),
              flush=True)
    rows = []
    for role, per_seed in runs.items():
        row = {"model": kind, "role": role, "runs": len(per_seed)}
        for key in per_seed[0]:
            if key != "role":
                row[key] = float(np.mean([r[key] for r in per_seed]))
        row["ndcg@10_std"] = float(np.std([r["ndcg@10"] for r in per_seed]))
        row["per_seed"] = per_seed
        rows.append(row)
    teacher_ndcg = rows[0]["ndcg@10"]
    for row in rows:
        row["share_of_teacher"] = row["ndcg@10"] / teacher_ndcg
        row["params_share"] = row["transformer_params"] / rows[0]["transformer_params"]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["gpt", "bert"], choices=["gpt", "bert"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--merge", action="store_true", help="replace only these models' rows in distill.json")
    args = p.parse_args()
    split = leave_one_out(load_dataset())
    rows = []
    for kind in args.models:
        rows += run(kind, args.seeds, args.max_seconds, split)
    print("\nDistillation: ml-100k, leave-one-out by time, full ranking, test split (mean over seeds)")
    print_table(rows, ["model", "role", "runs", "ndcg@10", "ndcg@10_std", "hr@10", "share_of_teacher",
                       "transformer_params", "params_share", "params", "bytes", "fit_s", "rec_ms_p50"])
    commands = [command_line()]
    if args.merge and (RESULTS / "distill.json").exists():
        old = json.loads((RESULTS / "distill.json").read_text())
        rows = [r for r in old["rows"] if r["model"] not in args.models] + rows
        commands = old.get("commands", [old.get("command")]) + commands
    write_results("distill", {"protocol": "ml-100k, leave-one-out by time, full ranking, test split",
                              "max_seconds": args.max_seconds, "rows": rows, "commands": commands})


if __name__ == "__main__":
    main()
