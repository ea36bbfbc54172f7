"""How the pipeline grows with data: synthetic data from 100k to 50M interactions (--sizes).

    .venv/bin/python bench/scale.py [--sizes 100000 1000000 10000000 50000000] [--models pop markov bpr gpt bert]

Each size runs in its own process (so peak memory is its own): generate → split → fit each model (with
early stopping on a seeded 5,000-user validation sample) → evaluate it (full ranking, bounded-memory
batches, 2,000 test users) → build the FAISS index over its item vectors. Users and items grow with the
size (users = n / 50, items = n / 100, at most 100k items: 50M is 1M users × 100k items).
The torch models train within a budget, the same at every size: BPR 2 epochs (lazy Adam over the rows a
batch touches; dense Adam spent 100 ms per step moving 19M parameters at 10M), GPT and BERT one epoch or
``--budget`` seconds, whichever ends first, with the sampled softmax past 50k items.
``--dataset PATH`` runs the same stages on real data you supply instead — GroupLens ml-1m (``.dat``) or
ml-20m (``ratings.csv``) folders through the MovieLens loaders. Prints seconds and the peak resident
memory after each stage, writes bench/results/scale.json and a
log-log plot of time and memory against size (bench/results/scale.png).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


from common import RESULTS, ROOT, peak_rss_mib, print_table, write_results

# The settings the published scale table was measured with (the defaults have since moved to batches of
# 128 windows, 4,096 negatives and a co-occurrence start, which suit short histories).
SEQUENTIAL = {"dim": 64, "layers": 2, "heads": 2, "max_len": 50, "epochs": 1, "content_init": False,
              "cooc_init": False, "batch_size": 512, "negatives": 1024}
FIT = {"pop": {}, "markov": {}, "itemknn": {},
       # item_bias: the default until 2026-12-05, when the table below was measured with it
       "bpr": {"epochs": 2, "patience": 2, "batch_size": 8192, "sparse": True, "item_bias": True},
       "gpt": SEQUENTIAL, "bert": SEQUENTIAL}


def one_size(n: int, models: list[str], budget: float, dataset: str | None = None) -> list[dict]:
    """Every stage at one synthetic size ``n`` — or on a dataset folder (e.g. GroupLens ml-20m)."""
    from recsys.data import load_dataset
    from recsys.data.synthetic import synthetic_dataset
    from recsys.evaluate import evaluate
    from recsys.index import index_for
    from recsys.models import get_model
    from recsys.split import leave_one_out

    rows = []

    def stage(name: str, start: float, **extra) -> None:
        rows.append({"interactions": n, "stage": name, "seconds": time.perf_counter() - start,
                     "peak_mib": peak_rss_mib(), **({"dataset": dataset} if dataset else {}), **extra})

    start = time.perf_counter()
    if dataset:
        ds = load_dataset(dataset)
        n = ds.n_interactions
        stage("load + build", start, users=ds.n_users, items=ds.n_items)
    else:
        ds = synthetic_dataset(max(100, n // 50), min(100_000, max(100, n // 100)), n, seed=0)
        stage("generate + build", start, users=ds.n_users, items=ds.n_items)
    start = time.perf_counter()
    split = leave_one_out(ds)
    stage("split", start)
    test = split.test.sample(2000, seed=0)
    for name in models:
        params = dict(FIT.get(name, {}))
        if name in ("gpt", "bert"):
            params["max_seconds"] = budget
        start = time.perf_counter()
        model = get_model(name, **params).fit(split.train, valid=split.valid)
        extra = {}
        if name in ("gpt", "bert"):  # how much of the epoch the budget allowed
            trained = model.history_[0]["targets"]
            extra = {"targets": trained, "targets_per_s": trained / model.history_[0]["seconds"]}
        stage(f"fit {name}", start, **extra)
        start = time.perf_counter()
        result = evaluate(model, test, split.train, k=(10,))
        stage(f"evaluate {name}", start, ndcg10=result.metrics["ndcg@10"])
        if model.item_embeddings() is not None:
            start = time.perf_counter()
            index_for(model)
            stage(f"index {name}", start)
        del model
    return rows


def plot(rows: list[dict]) -> None:
    """Log-log lines of seconds and peak memory per stage against interactions: a plotly figure,
    drawn to bench/results/scale.png by headless Chromium (the HTML, 4 MB of plotly.js, is not kept)."""
    import shutil
    import tempfile

    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = pd.DataFrame(rows)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("seconds per stage", "peak memory of the process (MiB)"))
    shown = [(name, part) for name, part in frame.groupby("stage", sort=False)
             if part["seconds"].max() >= 0.5]  # stages that never reach half a second would only crowd it
    for (stage_name, part), colour in zip(shown, px.colors.qualitative.Dark24):
        fig.add_trace(go.Scatter(x=part["interactions"], y=part["seconds"], name=stage_name,
                                 mode="lines+markers", line={"color": colour}), row=1, col=1)
    peak = frame.groupby("interactions", as_index=False)["peak_mib"].max()
    fig.add_trace(go.Scatter(x=peak["interactions"], y=peak["peak_mib"], name="peak memory",
                             mode="lines+markers", line={"color": "black"}), row=1, col=2)
    fig.update_xaxes(type="log", title="interactions")
    fig.update_yaxes(type="log")
    fig.update_layout(width=1200, height=640, title="bench/scale.py on 2 CPU cores", template="plotly_white")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no chromium: the plot was not drawn")
        return
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "scale.html"
        fig.write_html(page, include_plotlyjs=True, config={"displayModeBar": False})
        subprocess.run([browser, "--headless", "--no-sandbox", "--hide-scrollbars", "--window-size=1220,660",
                        "--virtual-time-budget=5000", f"--screenshot={RESULTS / 'scale.png'}", page.as_uri()],
                       check=True, capture_output=True)
    print(f"wrote {(RESULTS / 'scale.png').relative_to(ROOT)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000, 50_000_000])
    p.add_argument("--models", nargs="+", default=["pop", "markov", "bpr", "gpt", "bert"])
    p.add_argument("--budget", type=float, default=300.0, help="seconds of training for GPT and BERT")
    p.add_argument("--dataset", nargs="+", default=[], metavar="PATH",
                   help="run the same stages on dataset folders you supply (ml-1m, ml-20m, ...) instead of "
                        "synthetic sizes; results in bench/results/scale-datasets.json")
    p.add_argument("--plot-only", action="store_true", help="redraw the plot from bench/results/scale.json")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    p.add_argument("--one-dataset", help=argparse.SUPPRESS)  # internal: run one dataset, print JSON
    args = p.parse_args()
    if args.one or args.one_dataset:
        print(json.dumps(one_size(args.one or 0, args.models, args.budget, args.one_dataset)))
        return
    if args.plot_only:
        plot(json.loads((RESULTS / "scale.json").read_text())["rows"])
        return
    runs = [("--one-dataset", path) for path in args.dataset] or [("--one", str(n)) for n in args.sizes]
    name = "scale-datasets" if args.dataset else "scale"
    rows = []
    for flag, value in runs:
        out = subprocess.run([sys.executable, __file__, flag, value, "--budget", str(args.budget),
                              "--models", *args.models], capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            sys.exit(f"{value} failed:\n{out.stderr[-3000:]}")
        new = json.loads(out.stdout.strip().splitlines()[-1])
        rows += new
        print_table(new, ["interactions", "stage", "seconds", "peak_mib", "ndcg10", "targets_per_s"])
        # Written after every run: a long run that is stopped still leaves what it measured.
        write_results(name, {"rows": rows, "sizes": args.sizes, "datasets": args.dataset,
                             "models": args.models, "budget_seconds": args.budget, "fit": FIT})
    if not args.dataset:
        plot(rows)

if __name__ == "__main__":
    main()
