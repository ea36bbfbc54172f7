"""Quality and fit time of every model on ml-100k: leave-one-out by time, full ranking, test split.

    .venv/bin/python bench/models.py [--models pop itemknn ...] [--seeds 3]

Seeded models run once per seed and report the mean (and spread) over seeds: with 943 test users one
run's NDCG@10 moves by about ±0.008. The rating model is scored separately on a seeded random 80/20
split (RMSE, MAE, MSE; for Bayesian MF the share of test ratings inside its 50 / 80 / 90% predictive
intervals). Prints tables and writes bench/results/models.json.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import merge_results, print_table, write_results

from recsys.data import load_dataset
from recsys.errors import NotApplicable
from recsys.evaluate import evaluate
from recsys.memory import reuse_freed_memory
from recsys.models import get_model, model_class
from recsys.split import leave_one_out, random_split

RANKING_MODELS = ["pop", "itemknn", "userknn", "hybridcf", "markov", "markov-3", "ease", "bpr", "bpr-user-vectors",
                  "bpr-item-bias", "bpr-plain", "content", "gpt", "gpt-no-prior", "gpt-text-start", "bert",
                  "bert-no-prior", "bert-no-content"]
# Rows that are a registered model with other parameters than its defaults.
# The transformers get a wall-clock budget so that the run ends in reasonable time on 2 cores.
VARIANTS = {"bpr-plain": ("bpr", {"recency_half_life": None}),
            "bpr-user-vectors": ("bpr", {"user_vectors": True}),
            "bpr-item-bias": ("bpr", {"item_bias": True}),
            # The chain the transformers' transition prior uses, alone (``sequential.PRIOR_COUNTS``).
            "markov-3": ("markov", {"steps": 3, "step_decay": 0.7}),
            "gpt": ("gpt", {"max_seconds": 300}),
            "gpt-text-start": ("gpt", {"content_init": True, "max_seconds": 300}),
            "gpt-no-prior": ("gpt", {"transition_prior": False, "max_seconds": 300}),
            "gpt-no-decay": ("gpt", {"lr_decay": False, "epochs": 200, "patience": 10,
                                     "max_seconds": 300}),
            "bert": ("bert", {"max_seconds": 300}),
            "bert-no-content": ("bert", {"content_init": False, "max_seconds": 300}),
            "bert-no-prior": ("bert", {"transition_prior": False, "max_seconds": 300}),
            "bpmf-thompson": ("bpmf", {"thompson": True}),
            "ratingmf-user-vectors": ("ratingmf", {"user_vectors": True}),
            "ratingmf-no-recency": ("ratingmf", {"fold_in_half_life": None}),
            "bpmf-no-recency": ("bpmf", {"fold_in_half_life": None})}
METRICS = ["ndcg@10", "hr@10", "mrr@10", "coverage@10"]


def seeded(label: str, variants: dict | None = None) -> bool:
    return "seed" in model_class((variants or VARIANTS).get(label, (label, {}))[0]).param_names()


def recommend_latency_ms(model, split, users: int = 100) -> tuple[float, float]:
    """p50 / p95 milliseconds of one ``recommend(history, k=10)`` call, one user at a time."""
    times = []
    for j in range(min(users, len(split.test))):
        history = split.test.histories[j]
        start = time.perf_counter()
        model.recommend(history, k=10)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def run_ranking(names, seeds: int, split=None, variants: dict | None = None) -> list[dict]:
    """Fit, evaluate and time each model (seeded ones once per seed) on ``split`` (ml-100k's
    leave-one-out by default). A model that cannot fit the dataset (``NotApplicable``) gets a row that
    says why instead of numbers."""
    split = split or leave_one_out(load_dataset())
    rows = []
    for name in names:
        runs, skipped = [], None
        model_name, base_params = (variants or VARIANTS).get(name, (name, {}))
        for seed in range(seeds if seeded(name, variants) else 1):
            params = {**base_params, **({"seed": seed} if seeded(name, variants) else {})}
            start = time.perf_counter()
            try:
                model = get_model(model_name, **params).fit(split.train, valid=split.valid)
            except NotApplicable as e:
                skipped = str(e)
                print(f"  {name}: skipped: {skipped}", flush=True)
                break
            fit = time.perf_counter() - start
            result = evaluate(model, split.test, split.train, k=(10,))
            history = getattr(model, "history_", [])
            latency = recommend_latency_ms(model, split)
            runs.append({**{m: result.metrics[m] for m in METRICS}, "fit_s": fit,
                         "epochs": len(history) or None,
                         "s_per_epoch": fit / len(history) if history else None,
                         "prior_weight": getattr(model, "prior_weight_", None),
                         "prior_decay": (getattr(model, "prior_chain_", None) or {}).get("decay"),
                         "rec_ms_p50": latency[0], "rec_ms_p95": latency[1],
                         "curve": [{k: r[k] for k in ("epoch", "seconds", "valid_ndcg@10") if k in r}
                                   for r in history]})
            print(f"  {name} seed {params.get('seed', '-')}: ndcg@10 {result.metrics['ndcg@10']:.4f} "
                  f"in {fit:.1f} s", flush=True)
        if not runs:
            rows.append({"model": name, "params": base_params, "runs": 0, "skipped": skipped})
            continue
        row = {"model": name, "params": base_params, "runs": len(runs)}
        for key in runs[0]:
            if key == "curve":
                continue
            values = [r[key] for r in runs if r[key] is not None]
            row[key] = float(np.mean(values)) if values else None
        row["ndcg@10_std"] = float(np.std([r["ndcg@10"] for r in runs]))
        row["per_run"] = runs
        rows.append(row)
    return rows


def run_rating(names, seeds: int) -> list[dict]:
    """Each rating model on the random 80/20 split: errors (and interval coverage for the Bayesian
    model), the mean over seeds."""
    split = random_split(load_dataset(), test=0.2, seed=0)
    rows = []
    for name in names:
        runs = []
        for seed in range(seeds):
            start = time.perf_counter()
            model = get_model(name, seed=seed).fit(split.train)
            fit = time.perf_counter() - start
            runs.append({**model.rating_errors(split.test), "fit_s": fit, "epochs": len(model.history_)})
        rows.append({"model": name, "runs": seeds,
                     **{k: float(np.mean([r[k] for r in runs])) for k in runs[0]}, "per_run": runs})
    return rows


def main() -> None:
    reuse_freed_memory()  # as `python -m recsys build` trains: the same speed
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=RANKING_MODELS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rating-models", nargs="*", default=["ratingmf", "bpmf"],
                   help="rating models for the 80/20 table (none: skip it)")
    p.add_argument("--no-rating", action="store_true", help="skip the rating models")
    p.add_argument("--out", default="models", help="results name: bench/results/<out>.json")
    p.add_argument("--merge", action="store_true",
                   help="replace only these models' rows in an existing results file")
    args = p.parse_args()
    ranking = run_ranking(args.models, args.seeds)
    print("\nRanking: ml-100k, leave-one-out by time, full ranking, test split (mean over seeds)")
    print_table(ranking, ["model", "runs", *METRICS, "ndcg@10_std", "fit_s", "epochs", "s_per_epoch",
                          "rec_ms_p50", "rec_ms_p95"])
    rating = [] if args.no_rating or not args.rating_models else run_rating(args.rating_models, args.seeds)
    if rating:
        print("\nRatings: ml-100k, random 80/20 split (seed 0), test part")
        print_table(rating, ["model", "runs", "rmse", "mae", "mse", "coverage_50", "coverage_80",
                             "coverage_90", "fit_s", "epochs"])
    payload = {"ranking": ranking, "rating": rating}
    if args.merge:
        payload, commands = merge_results(args.out, {"ranking": ranking, "rating": rating})
        payload["commands"] = commands
    write_results(args.out, {"protocol": "ml-100k, leave-one-out by time, full ranking, test split",
                             **payload})


if __name__ == "__main__":
    main()
