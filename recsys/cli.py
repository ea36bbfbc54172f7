"""``python -m recsys``: dataset info, training, evaluation and recommendations from the shell.

Exit status: 0 on success, 2 on bad input (with a one-line message on stderr), as argparse does.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from recsys import __version__, distributed
from recsys.artifacts import ArtifactStore
from recsys.data import EMBEDDED, FORMATS, detect_format, load_dataset
from recsys.errors import NotApplicable, ParameterError, RecsysError
from recsys.evaluate import evaluate, results_frame
from recsys.io import atomic_write_json
from recsys.memory import reuse_freed_memory
from recsys.models import model_names
from recsys.pipeline import build_model, default_models
from recsys.progress import TqdmProgress
from recsys.split import PROTOCOLS, make_split


def _parse_params(pairs: list[str]) -> dict:
    """key=value pairs; values are read as JSON when they parse (numbers, true, null), else strings."""
    params = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ParameterError(f"--param expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


def _dataset(args):
    kwargs = {"min_user_interactions": args.min_user, "min_item_interactions": args.min_item,
              "rating_threshold": args.rating_threshold}
    fmt = args.format
    if fmt == "auto" and args.dataset != EMBEDDED and Path(args.dataset).is_file():
        fmt = detect_format(args.dataset)
    if fmt in ("csv", "parquet"):
        kwargs.update(user_col=args.user_col, item_col=args.item_col, rating_col=args.rating_col,
                      timestamp_col=args.timestamp_col, sep=args.sep, items_path=args.items)
    return load_dataset(args.dataset, format=args.format, **kwargs)


def _store(args) -> ArtifactStore:
    return ArtifactStore(args.artifacts)


def _models(args) -> list[str]:
    return args.model or list(default_models())


def cmd_info(args) -> int:
    ds = _dataset(args)
    for line in (ds.report.lines() if ds.report else []):
        print(f"# {line}")
    stats = ds.stats()
    width = max(map(len, stats))
    for key, value in stats.items():
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else (
            f"{value:.4f}" if isinstance(value, float) else value)
        print(f"{key:<{width}}  {shown}")
    return 0


def _build(args, name, split, force=False):
    quiet = args.quiet or not distributed.is_main()  # one progress bar under torchrun, not one per process
    with TqdmProgress(f"{name}", disable=quiet or None) as bar:
        return build_model(name, split, params=_parse_params(args.param), store=_store(args),
                           force=force, progress=bar)


def cmd_train(args) -> int:
    split = make_split(_dataset(args), args.split)
    store = _store(args)
    for name in _models(args):
        built = _build(args, name, split, force=args.force)
        if not distributed.is_main():
            continue
        how = "loaded (already built)" if built.loaded else f"trained in {built.manifest['fit_seconds']} s"
        if distributed.world_size() > 1 and not built.loaded:
            how += f" on {distributed.world_size()} processes"
        print(f"{name}: {how} -> {store.path(store.key(name, built.model.get_params(), split.train))}")
    return 0


def cmd_evaluate(args) -> int:
    split = make_split(_dataset(args), args.split)
    results = []
    for name in _models(args):
        model = _build(args, name, split).model
        with TqdmProgress(f"evaluating {name}", disable=args.quiet or None) as bar:
            results.append(evaluate(model, split.test, split.train, k=args.k, protocol=split.protocol,
                                    sampled=args.sampled, sampling=args.sampling, seed=args.seed,
                                    progress=bar))
    table = results_frame(results)
    shown = [c for c in table.columns if c.split("@")[0] in args.metrics or c == "eval_seconds"]
    candidates = (f"full ranking over {split.train.n_items:,} items" if args.sampled is None else
                  f"SAMPLED candidates ({results[0].candidates}; inflated, for reproducing papers only)")
    print(f"# {split.train.name}: {split.description}, {candidates}, history excluded, "
          f"{len(split.test):,} test users")
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(table[shown].round(4).to_string())
    if args.json:
        atomic_write_json(args.json, {"dataset": split.train.name, "protocol": split.protocol,
                                      "results": [r.to_dict() for r in results]})
        print(f"# wrote {args.json}")
    return 0


def cmd_recommend(args) -> int:
    ds = _dataset(args)
    split = make_split(ds, args.split)
    user = ds.user_index(args.user)
    history = ds.sequences()[user]
    for name in _models(args):
        model = _build(args, name, split).model
        items, scores = model.recommend(history, k=args.k[0])
        print(f"# {name}: top {len(items)} for user {args.user} ({len(history)} items in history)")
        frame = pd.DataFrame({"rank": np.arange(1, len(items) + 1), "item": ds.item_ids[items],
                              "score": np.round(scores, 4), "title": ds.items["title"].to_numpy()[items],
                              "genres": ds.items["genres"].to_numpy()[items]})
        print(frame.to_string(index=False))
    return 0


def cmd_build(args) -> int:
    """Build every default model that is missing (what `make run` does before starting the app)."""
    split = make_split(_dataset(args), args.split)
    for name in _models(args):
        try:
            built = _build(args, name, split)
        except NotApplicable as e:     # e.g. EASE on a 50k-item catalogue: the other models still build
            print(f"{name}: skipped: {e}")
            continue
        print(f"{name}: {'up to date' if built.loaded else 'built'}")
    return 0


def cmd_serve(args) -> int:
    """Serve the API until interrupted (docs at http://HOST:PORT/docs)."""
    from recsys.api import serve

    if not 1 <= args.port <= 65535 or args.workers < 1:
        raise ParameterError("--port must be 1..65535 and --workers at least 1")
    serve(host=args.host, port=args.port, workers=args.workers, dataset=args.dataset)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m recsys", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"recsys {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("dataset")
    g.add_argument("--dataset", default=EMBEDDED,
                   help=f"'{EMBEDDED}' (embedded, default) or a path to a dataset folder or file")
    g.add_argument("--format", default="auto", choices=FORMATS,
                   help="recognised from the files by default; 'sequence' reads a headerless file of "
                        "'user item' lines or one user a line ('user item1 item2 ...')")
    g.add_argument("--min-user", type=int, default=0, help="k-core: minimum interactions per user")
    g.add_argument("--min-item", type=int, default=0, help="k-core: minimum interactions per item")
    g.add_argument("--rating-threshold", type=float, default=None,
                   help="implicit feedback: keep ratings >= this")
    g.add_argument("--user-col", default="user")
    g.add_argument("--item-col", default="item")
    g.add_argument("--rating-col", default=None)
    g.add_argument("--timestamp-col", default=None)
    g.add_argument("--sep", default=None, help="delimiter of a CSV file (sniffed by default)")
    g.add_argument("--items", default=None, help="an items file for a generic CSV dataset")
    common.add_argument("--split", default="loo", choices=PROTOCOLS)
    common.add_argument("--artifacts", default=None, help="artifact store folder (data/artifacts)")
    common.add_argument("--quiet", action="store_true", help="no progress bars")

    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", action="append", choices=model_names(),
                       help="model name, repeatable (default: $RECLENS_MODELS or every default model)")
    model.add_argument("--param", action="append", default=[], help="hyper-parameter key=value")
    model.add_argument("--k", type=int, nargs="+", default=[10, 20])

    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("info", parents=[common], help="dataset statistics").set_defaults(fn=cmd_info)
    t = sub.add_parser("train", parents=[common, model], help="train and store models")
    t.add_argument("--force", action="store_true", help="retrain even if an artifact exists")
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("evaluate", parents=[common, model], help="full-ranking evaluation on the test split")
    e.add_argument("--json", default=None, help="also write the results to this JSON file")
    e.add_argument("--sampled", type=int, default=None, metavar="N",
                   help="rank among N sampled negatives instead of all items (only to reproduce papers)")
    e.add_argument("--sampling", default="uniform", choices=["uniform", "popularity"])
    e.add_argument("--seed", type=int, default=0, help="seed of the sampled negatives")
    e.add_argument("--metrics", nargs="+", default=["hr", "ndcg", "mrr", "recall", "coverage"],
                   help="metric names to print")
    e.set_defaults(fn=cmd_evaluate)
    r = sub.add_parser("recommend", parents=[common, model], help="recommendations for one user")
    r.add_argument("--user", required=True, help="raw user id")
    r.set_defaults(fn=cmd_recommend)
    sub.add_parser("build", parents=[common, model], help="build every missing default model"
                   ).set_defaults(fn=cmd_build)
    s = sub.add_parser("serve", help="the HTTP API over the built models (FastAPI + uvicorn; never trains)")
    s.add_argument("--dataset", default=None,
                   help=f"the dataset of requests that name none: '{EMBEDDED}' (default) or a folder name "
                        "under data/datasets/")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1, help="server processes (each loads the models)")
    s.set_defaults(fn=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if any(k <= 0 for k in getattr(args, "k", [1])):
        p.exit(2, f"{p.prog}: error: --k must be positive\n")
    sampled = getattr(args, "sampled", None)
    if sampled is not None and sampled <= 0:  # refused before anything is trained or written
        p.exit(2, f"{p.prog}: error: --sampled must be a positive number of negatives\n")
    if distributed.launched() and args.command != "train":
        p.exit(2, f"{p.prog}: error: under torchrun only 'train' runs (got {args.command!r})\n")
    if args.command in ("train", "build", "evaluate"):
        reuse_freed_memory()  # large score and logits blocks: reused, not faulted in again per batch
    try:
        distributed.init()
        code = args.fn(args)
        distributed.finish(wait=True)  # every process got here; after an error (below) none waits
        return code
    except RecsysError as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{p.prog}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    finally:
        distributed.finish()
