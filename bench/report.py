"""The README's number tables, generated from bench/results/*.json.

    .venv/bin/python bench/report.py           # rewrite the tables in README.md
    .venv/bin/python bench/report.py --check   # exit 1 if README.md differs from the results

Every table sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in README.md and is replaced
whole; the text around it is left alone. Each table ends with the line saying where its numbers come from:
the results file, the command that wrote it, the machine and the date. A results file that is missing
leaves its table as it is. `make bench` runs every benchmark and then this script.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"

# Rows of models.py that are a registered model with other parameters.
LABELS = {"pop": "Popularity", "itemknn": "ItemKNN", "userknn": "UserKNN", "hybridcf": "Hybrid CF",
          "markov": "Markov chain", "markov-3": "Markov chain over 3 steps", "ease": "EASE", "bpr": "MF-BPR",
          "bpr-plain": "MF-BPR without recency sampling", "bpr-user-vectors": "MF-BPR, known users by their learned vectors",
          "bpr-item-bias": "MF-BPR with an item bias", "content": "Content (MiniLM text only)",
          "gpt": "GPT", "gpt-text-start": "GPT, item vectors from titles", "gpt-no-decay": "GPT, constant LR",
          "gpt-no-prior": "GPT without the transition prior", "bert-no-prior": "BERT4Rec without the transition prior",
          "bert": "BERT4Rec", "bert-no-content": "BERT4Rec, random item embeddings",
          "features": "feature model", "ratingmf": "rating MF",
          "ratingmf-user-vectors": "rating MF, known users by their learned vectors",
          "ratingmf-no-recency": "rating MF, every rating of the fold-in alike",
          "bpmf-no-recency": "Bayesian MF, every rating of the fold-in alike",
          "bpmf": "Bayesian MF (posterior mean)", "bpmf-thompson": "Bayesian MF, Thompson draw",
          "gpt-student": "GPT student (distilled)", "bert-student": "BERT4Rec student (distilled)"}


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def num(v, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 100):
        return f"{int(v):,}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def seconds(v) -> str:
    if v is None:
        return ""
    if v < 0.001:
        return "< 1 ms"
    if v < 1:
        return f"{v * 1000:.0f} ms" if v >= 0.01 else f"{v * 1000:.1f} ms"
    return f"{v:.1f} s" if v < 100 else f"{v:,.0f} s"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
            + ["| " + " | ".join(r) + " |" for r in rows])


def source(data: dict, name: str) -> str:
    m = data.get("machine", {})
    commands = " ` then ` ".join(data.get("commands") or [data.get("command", "")])  # runs merged with --merge
    return (f"<sub>`bench/results/{name}.json` · `{commands}` · {m.get('cpus')} CPU cores, "
            f"Python {m.get('python')}, torch {m.get('torch')} · {m.get('date')}</sub>")


# -- one function per table: returns the lines, or None when its results are missing -----------------------
def quality() -> list[str] | None:
    files = [n for n in ("models", "gpt", "bert", "bpmf") if load(n)]
    if not files:
        return None
    seen, rows, notes = set(), [], []
    for name in files:
        data = load(name)
        for r in data["ranking"]:
            if r["model"] in seen:
                continue
            seen.add(r["model"])
            spread = f" ± {r['ndcg@10_std']:.3f}" if r["runs"] > 1 else ""
            unit = "Gibbs sweeps" if r["model"].startswith("bpmf") else "epochs"
            fit = num(r["fit_s"], 1) + (f" ({r['epochs']:.0f} {unit})" if r.get("epochs") else "")
            rows.append([LABELS.get(r["model"], r["model"]), f"{r['ndcg@10']:.4f}{spread}",
                         f"{r['hr@10']:.4f}", f"{r['mrr@10']:.4f}", f"{r['coverage@10']:.3f}", fit,
                         num(r.get("rec_ms_p50"), 1), str(r["runs"])])
        notes.append(source(data, name))
    return table(["model", "NDCG@10", "HR@10", "MRR@10", "coverage@10", "fit seconds", "recommend ms",
                  "seeds"], rows) + [""] + [n + "<br>" for n in notes[:-1]] + notes[-1:]


def rating() -> list[str] | None:
    files = [n for n in ("models", "bpmf") if load(n) and load(n).get("rating")]
    if not files:
        return None
    rows, notes = [], []
    for name in files:
        data = load(name)
        for r in data["rating"]:
            cover = [num(r.get(f"coverage_{p}"), 3) or "—" for p in (50, 80, 90)]
            rows.append([LABELS.get(r["model"], r["model"]), f"{r['rmse']:.4f}", f"{r['mae']:.4f}",
                         f"{r['mse']:.4f}", *cover, num(r["fit_s"], 1), str(r["runs"])])
        notes.append(source(data, name))
    return table(["model", "RMSE", "MAE", "MSE", "in 50% interval", "in 80% interval", "in 90% interval",
                  "fit seconds", "seeds"], rows) + [""] + [n + "<br>" for n in notes[:-1]] + notes[-1:]


def fold_in_intervals() -> list[str] | None:
    data = load("fold_in_intervals")
    if not data:
        return None
    bands = sorted((k for k in data["results"][0] if k.startswith("coverage_90_history_")),
                   key=lambda k: int(k.removeprefix("coverage_90_history_").split("-")[0]))  # JSON sorts keys
    rows = [[LABELS.get(r["model"], r["model"]),
             "every rating alike" if r["fold_in_half_life"] is None else num(r["fold_in_half_life"], 1),
             f"{r['rmse']:.4f}", *(f"{r[f'coverage_{p}']:.3f}" for p in (50, 80, 90)), f"{r['width_90']:.2f}",
             " / ".join(f"{r[b]:.3f}" for b in bands), str(r["runs"])] for r in data["results"]]
    lengths = " / ".join(b.removeprefix("coverage_90_history_").replace("-", "–").rstrip("–") + ("+" if b.endswith("-") else "")
                         for b in bands)
    return table(["model", "fold-in half-life", "RMSE", "in 50% interval", "in 80% interval",
                  "in 90% interval", "90% width (★)", f"in 90% interval by history length ({lengths})",
                  "seeds"], rows) + ["", source(data, "fold_in_intervals")]


def _found(r: dict) -> str:
    """The share found, and the share proved impossible where the model's terms allow a proof."""
    proved = r.get("counterfactual_proved_none") or 0
    return num(r["counterfactual_found"], 3) + (f" ({num(proved, 3)} proved none)" if proved else "")


def _quality_rows(results: list[dict], with_method: bool, counterfactuals: bool = True) -> list[list[str]]:
    rows = []
    for r in results:
        if r["method"] == "none":
            rows.append([LABELS.get(r["model"], r["model"])] + (["none"] if with_method else [])
                        + ["does not read the history"] + [""] * (len(QUALITY_HEADER) - 1))
            continue
        deletion = f"{num(r['deletion_auc'], 3)} / {num(r['random_deletion_auc'], 3)}"
        if r.get("attention_deletion_auc") is not None:
            deletion += f" / {num(r['attention_deletion_auc'], 3)}"
        rows.append([LABELS.get(r["model"], r["model"])] + ([r["method"]] if with_method else [])
                    + [num(r["stability"], 3), num(r["faithful_top3"], 3), deletion,
                       num(r["insertion_auc"], 2)] + ([_found(r)] if counterfactuals else [])
                    + [seconds(r["seconds_per_list"]), seconds(r.get("seconds_200"))]
                    + ([f"{r['failing_total']:,} of {r['cases']:,}"] if counterfactuals else []))
    return rows


QUALITY_HEADER = ["stability", "faithful top-3", "deletion AUC (credit / random / attention)",
                  "insertion AUC", "counterfactual found", "s per list", "s per list, 200-item history",
                  "cases failing any"]


def explain_quality() -> list[str] | None:
    data = load("explain_quality")
    if not data:
        return None
    rows = _quality_rows([r for r in data["results"] if r.get("default", True)], with_method=True)
    return table(["model", "method"] + QUALITY_HEADER, rows) + [
        "", f"{data['users']} test users × their top {data['k']} = up to {data['users'] * data['k']:,} "
        "cases per model.", "", source(data, "explain_quality")]


def explain_methods() -> list[str] | None:
    data = load("explain_methods")
    if not data:
        return None
    # The counterfactual search is the same whatever the method: its figures are in the table above.
    rows = _quality_rows([r for r in data["results"] if r["method"] != "none"], with_method=True,
                         counterfactuals=False)
    header = [h for h in QUALITY_HEADER if h not in ("counterfactual found", "cases failing any")]
    return table(["model", "method"] + header, rows) + [
        "", f"{data['users']} test users × their top {data['k']}.", "", source(data, "explain_methods")]


def app() -> list[str] | None:
    data, conc = load("app"), load("concurrency")
    if not data:
        return None
    rows = [[r["measure"], num(r["p50"], 2), num(r.get("p95"), 2), num(r["max"], 2), str(r["n"]),
             num(r.get("target"), 1)] for r in data["rows"]]
    out = table(["measure", "p50", "p95", "max", "n", "target"], rows) + ["", source(data, "app")]
    if conc:
        rows = [[str(r["sessions"]), r["page"], "yes" if r["all_rendered"] else "**no**",
                 num(r["p50_s"], 1), num(r["p95_s"], 1), f"{r['rss_before_mib']:.0f} → {r['rss_after_mib']:.0f}",
                 num(r["rss_per_session_mib"], 1)] for r in conc["rows"]]
        out += [""] + table(["sessions at once", "page", "all rendered", "p50 s", "p95 s", "server MiB",
                             "MiB per session"], rows) + ["", source(conc, "concurrency")]
    return out


def index() -> list[str] | None:
    data = load("index")
    if not data:
        return None
    rows = [[r["index"], f"{r['n']:,}", seconds(r["build_s"]), f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
             num(r["batch_qps"], 0), f"{r['recall@10']:.3f}",
             f"{r['size_mib']:.0f}" if "size_mib" in r else ""] for r in data["results"]]
    return table(["index", "vectors", "build", "p50 ms", "p99 ms", "batch queries/s", "recall@10", "MiB"],
                 rows) + ["", source(data, "index")]


def load_speed() -> list[str] | None:
    data = load("load")
    if not data:
        return None
    rows = [[f"{r['rows']:,}", f"{r['file_mib']:,.0f}", seconds(r["load_seconds"]), f"{r['peak_rss_mib']:,.0f}",
             f"{r['users']:,}", f"{r['items']:,}"] for r in data["results"]]
    return table(["rows", "file MiB", "load", "peak MiB", "users", "items"], rows) + ["", source(data, "load")]


def scale() -> list[str] | None:
    data = load("scale")
    if not data:
        return None
    sizes = sorted({r["interactions"] for r in data["rows"]})
    stages = list(dict.fromkeys(r["stage"] for r in data["rows"]))
    by = {(r["interactions"], r["stage"]): r for r in data["rows"]}
    header = ["stage"] + [_count(n) for n in sizes]
    rows = [[s] + [seconds(by[(n, s)]["seconds"]) if (n, s) in by else "" for n in sizes] for s in stages]
    peak = ["**peak memory**"] + [f"{max(r['peak_mib'] for r in data['rows'] if r['interactions'] == n):,.0f} MiB"
                                  for n in sizes]
    shape = ["users × items"] + [_shape(data, n) for n in sizes]
    models = [s.split(" ", 1)[1] for s in stages if s.startswith("evaluate ")]
    quality_rows = [[f"NDCG@10 {m}"] + [f"{by[(n, f'evaluate {m}')]['ndcg10']:.4f}"
                                        if (n, f"evaluate {m}") in by else "" for n in sizes] for m in models]
    seq = [m for m in models if (sizes[-1], f"fit {m}") in by and "targets_per_s" in by[(sizes[-1], f"fit {m}")]]
    speed_rows = [[f"{m} targets / s"] + [num(by[(n, f'fit {m}')].get("targets_per_s"), 0)
                                          if (n, f"fit {m}") in by else "" for n in sizes] for m in seq]
    return table(header, [shape] + rows + [peak] + speed_rows + quality_rows) + ["", source(data, "scale")]


def _count(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def _shape(data: dict, n: int) -> str:
    r = next((r for r in data["rows"] if r["interactions"] == n and "users" in r), None)
    return f"{r['users']:,} × {r['items']:,}" if r else ""


def compress() -> list[str] | None:
    data = load("compress")
    if not data:
        return None
    rows = [[LABELS.get(r["model"], r["model"]), r["variant"], f"{r['state_kib']:,.0f}", f"{r['batch256_ms']:.1f}",
             f"{r['one_user_ms']:.2f}", f"{r['ndcg10']:.4f}", f"{r['delta_ndcg10']:+.4f}"] for r in data["models"]]
    out = table(["model", "variant", "state KiB", "score 256 users (ms)", "score 1 user (ms)", "NDCG@10",
                 "change"], rows)
    rows = [[LABELS.get(r["model"], r["model"]) + (f" ({r['note']})" if r.get("note") else ""), r["index"],
             f"{r['index_kib']:,.0f}", f"{r['query_ms']:.3f}",
             f"{r['ndcg10']:.4f}", f"{r['overlap@10']:.3f}"] for r in data["retrieval"]]
    return out + [""] + table(["model", "retrieval index", "index KiB", "ms / query", "NDCG@10",
                               "overlap@10 with exact"], rows) + ["", source(data, "compress")]


def distributed() -> list[str] | None:
    data = load("distributed")
    if not data:
        return None
    rows = [[LABELS.get(r["model"], r["model"]), str(r["processes"]), seconds(r["fit_s"]), str(r["epochs"]),
             str(r.get("best_epoch", "")), f"{r['ndcg10']:.4f}",
             f"{r['max_abs_diff']:.1e} (largest entry {r['max_abs_vector']:.2f})"
             if r.get("max_abs_diff") is not None else ""] for r in data["rows"]]
    return table(["model", "processes", "fit", "epochs", "epoch kept", "NDCG@10",
                  "max abs. difference of the item vectors vs 1 process"], rows) + ["", source(data, "distributed")]


def counterfactual_recall() -> list[str] | None:
    data = load("counterfactual_recall")
    if not data:
        return None
    rows = [[LABELS.get(r["model"], r["model"]), str(r["histories"]), str(r["cases"]), str(r["exist"]),
             str(r["found"]), f"{r['recall']:.3f}", f"{r['minimal']:.3f}", f"{r['extra']:.2f}",
             f"{r['subsets']:,}"] for r in data["results"]]
    return table(["model", "histories", "cases", "a counterfactual exists", "search found one",
                  "recall", "found set is smallest", "removals more than smallest",
                  "subsets scored per history"], rows) + ["", source(data, "counterfactual_recall")]


def catalogue() -> list[str] | None:
    data = load("catalogue-beauty")
    if not data:
        return None
    rows = []
    for r in data["ranking"]:
        label = LABELS.get(r["model"], r["model"])
        if r.get("skipped"):
            rows.append([label, "", "", "", f"does not apply: {r['skipped']}"])
            continue
        params = dict(r.get("params") or {})
        budget = params.pop("max_seconds", None)
        notes = [f"mean of {r['runs']} seeds" if r["runs"] > 1 else "",
                 f"{r['epochs']:.0f} epochs" if r.get("epochs") else "",
                 f"{budget / 60:.0f}-minute budget" if budget else "",
                 ", ".join(f"{k}={v}" for k, v in params.items())]  # settings other than the defaults
        rows.append([label, f"{r['ndcg@10']:.4f}", f"{r['hr@10']:.4f}", seconds(r["fit_s"]),
                     ", ".join(n for n in notes if n)])
    for r in (data.get("published") or {}).get("rows", []):
        rows.append([f"{r['model']} (published)", f"{r['ndcg@10']:.4f}", f"{r['hr@10']:.4f}",
                     f"{r['fit_s']:,} s on a GPU", ""])
    stats = data["stats"]
    note = (f"{stats['users']:,} users, {stats['items']:,} items, {stats['interactions']:,} interactions; "
            f"{data['test_users']:,} test users; {data['protocol']}. Published: "
            f"{(data.get('published') or {}).get('source', '')}.")
    return table(["model", "NDCG@10", "HR@10", "fit", "note"], rows) + ["", note, "",
                                                                         source(data, "catalogue-beauty")]


def api() -> list[str] | None:
    data = load("api")
    if not data:
        return None
    rows = [[LABELS.get(r["model"], r["model"]), "yes" if r["explain"] else "no", str(r["clients"]),
             num(r["p50_ms"], 1), num(r["p99_ms"], 1), f"{r['rps']:,.0f}", f"{r['errors']:,} of {r['requests']:,}"]
            for r in data["results"]]
    workers = data.get("workers", 1)
    note = (f"Server: one process, {workers} worker{'s' * (workers > 1)}; resident memory "
            f"{data['server_rss_mib_loaded']:,.0f} MiB with the three models loaded, "
            f"{data['server_rss_mib_after']:,.0f} MiB after the run. {data['seconds_per_cell']:.0f} s per row.")
    return table(["model", "explain", "concurrent clients", "p50 ms", "p99 ms", "requests / s", "errors"],
                 rows) + ["", note, "", source(data, "api")]


def distill() -> list[str] | None:
    data = load("distill")
    if not data:
        return None
    labels = {"gpt": "GPT", "bert": "BERT4Rec"}
    rows = []
    for r in data["rows"]:
        spread = f" ± {r['ndcg@10_std']:.3f}" if r["runs"] > 1 else ""
        rows.append([f"{labels.get(r['model'], r['model'])} {r['role']}", f"{r['ndcg@10']:.4f}{spread}",
                     f"{r['share_of_teacher']:.1%}", f"{r['hr@10']:.4f}",
                     f"{r['transformer_params']:,.0f} ({r['params_share']:.1%})", f"{r['params']:,.0f}",
                     f"{r['bytes'] / 1024:,.0f} KiB", num(r["fit_s"], 1), num(r["rec_ms_p50"], 2),
                     str(r["runs"])])
    return table(["model", "NDCG@10", "of the teacher's", "HR@10", "transformer parameters", "all parameters",
                  "on disk", "fit seconds", "recommend ms (p50)", "seeds"], rows) + ["", source(data, "distill")]


TABLES = {"quality": quality, "distill": distill, "rating": rating, "explain_quality": explain_quality,
          "explain_methods": explain_methods, "app": app, "index": index,
          "load": load_speed, "scale": scale, "compress": compress, "distributed": distributed,
          "counterfactual_recall": counterfactual_recall, "api": api, "catalogue": catalogue,
          "fold_in_intervals": fold_in_intervals}
BLOCK = re.compile(r"(<!-- bench:(\w+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)


def render(text: str) -> str:
    def replace(m: re.Match) -> str:
        make = TABLES.get(m.group(2))
        lines = make() if make else None
        return m.group(0) if lines is None else m.group(1) + "\n".join(lines) + "\n" + m.group(4)

    return BLOCK.sub(replace, text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only say whether README.md is up to date")
    args = p.parse_args()
    text = README.read_text()
    new = render(text)
    names = [m.group(2) for m in BLOCK.finditer(text)]
    if args.check:
        if new != text:
            print("README.md tables differ from bench/results: run .venv/bin/python bench/report.py")
            return 1
        print(f"README.md tables up to date ({', '.join(names)})")
        return 0
    if new != text:
        from recsys.io import atomic_write_bytes  # noqa: E402  (only when writing)

        atomic_write_bytes(README, new.encode())
    print(f"README.md: {len(names)} tables from bench/results ({', '.join(names)})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
