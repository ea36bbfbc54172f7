"""RecLens over HTTP: every built model's recommendations, similar items, text search, explanations and
the evaluation of another tool's lists, as JSON (FastAPI; `python -m recsys serve` runs it with uvicorn).

The API reads what the app reads — the artifact store under the data folder, through
``recsys.service.Workspace`` — and never trains: a model that is not built is a 409 naming the build
command. Requests speak raw ids and titles, never internal indices. Bad input (an unknown model, user or
item, an empty or over-long history, k out of range, wrong types) is a 4xx with one message in
``detail``; nothing a request says reaches the filesystem except a dataset name checked against the list.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Annotated, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from recsys import __version__
from recsys.data import EMBEDDED, Dataset
from recsys.errors import ArtifactError, DataError, NotApplicable, ParameterError, RecsysError
from recsys.models import model_names
from recsys.ranking import item_filter, mask_history, top_k
from recsys.service import UPLOAD_LIMIT_MB, Workspace

MAX_K = 500
MAX_HISTORY = 2_000
MAX_BATCH = 256
MAX_TEXT = 1_000

RawId = StrictInt | Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# The registry's names, so the OpenAPI docs list them and an unknown name fails validation.
ModelName = Literal[tuple(model_names())]


class NotFound(RecsysError):
    """An unknown dataset, model, user or item (HTTP 404)."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Target(_Request):
    """Whose list: a known ``user`` (raw id; their history is the one the app shows) or a ``history`` of
    raw item ids, oldest first (anyone, e.g. a visitor the model never saw)."""

    user: RawId | None = None
    history: list[RawId] | None = Field(None, max_length=MAX_HISTORY)

    @model_validator(mode="after")
    def _one_of(self):
        if (self.user is None) == (self.history is None):
            raise ValueError("give exactly one of 'user' and 'history'")
        if self.history is not None and not self.history:
            raise ValueError("the history is empty: give at least one item, or a known 'user'")
        return self


class ListOptions(_Request):
    dataset: Name | None = Field(None, description="default: the server's dataset (--dataset)")
    model: ModelName
    k: int = Field(10, ge=1, le=MAX_K, description="list length")
    exclude: list[RawId] = Field([], max_length=MAX_HISTORY, description="items never to recommend")
    genre: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="only items of this genre")
    years: tuple[StrictInt, StrictInt] | None = Field(None, description="only items released in [from, to]")
    diversity: float = Field(0.0, ge=0.0, le=1.0,
                             description="MMR re-ranking by genre: 0 = the model's order, 1 = most diverse")
    popularity_penalty: float = Field(0.0, ge=0.0, le=1.0,
                                      description="lowers popular items (scaled log popularity)")
    explain: bool = Field(False, description="add each item's reason and counterfactual")


class RecommendRequest(ListOptions, Target):
    pass


class BatchRequest(ListOptions):
    requests: list[Target] = Field(..., min_length=1, max_length=MAX_BATCH)


class SimilarRequest(_Request):
    dataset: Name | None = Field(None, description="default: the server's dataset (--dataset)")
    model: ModelName
    item: RawId
    k: int = Field(10, ge=1, le=MAX_K)


class SearchRequest(_Request):
    dataset: Name | None = Field(None, description="default: the server's dataset (--dataset)")
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    k: int = Field(10, ge=1, le=MAX_K)


class ExplainRequest(Target):
    dataset: Name | None = Field(None, description="default: the server's dataset (--dataset)")
    model: ModelName
    item: RawId
    method: Literal["exact", "occlusion", "shapley", "integrated-gradients", "attention"] | None = None


class EvaluateRequest(_Request):
    dataset: Name | None = Field(None, description="default: the server's dataset (--dataset)")
    csv: Annotated[str, StringConstraints(min_length=1, max_length=UPLOAD_LIMIT_MB * 2**20)] = Field(
        ..., description="the recommendations file's text: user,item[,rank|score] with a header")
    filename: Annotated[str, StringConstraints(max_length=100)] = "recommendations.csv"


# -- helpers ------------------------------------------------------------------------------------------
class _Ids:
    """Raw id → index for one dataset's users or items (JSON gives 42 or "42" alike)."""

    def __init__(self, ids: np.ndarray, kind: str):
        self.kind, self.n = kind, len(ids)
        self.map = {}
        for i, raw in enumerate(ids.tolist()):
            self.map[raw] = i
            self.map[str(raw)] = i

    def __call__(self, raw) -> int:
        i = self.map.get(raw)
        if i is None or isinstance(raw, bool):
            raise NotFound(f"unknown {self.kind} {raw!r} (the dataset has {self.n:,} {self.kind}s)")
        return i


class Batcher:
    """Dynamic batching: the scores asked for by concurrent requests to one model, computed in one call.

    Each request adds its history and waits; the first one schedules a flush that lets the event loop
    turn twice (requests read in the same turn join) and then scores everything waiting, known users
    and bare histories in separate calls, at most ``max_rows`` histories a call. Under load a GPT
    forward pass over ten histories costs little more than over one (bench/api.py)."""

    def __init__(self, model, max_rows: int = 64):
        self.model, self.max_rows = model, max_rows
        self.pending: list = []
        self.flushing = False

    async def scores(self, history: np.ndarray, user: int | None) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((history, user, future))
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        for _ in range(2):
            await asyncio.sleep(0)
        batch, self.pending, self.flushing = self.pending, [], False
        for known in (False, True):
            rows = [r for r in batch if (r[1] is not None) == known]
            for lo in range(0, len(rows), self.max_rows):
                part = rows[lo:lo + self.max_rows]
                try:
                    scores = self.model.score([h for h, _, _ in part],
                                              np.array([u for _, u, _ in part]) if known else None)
                except Exception as e:          # every waiting request gets the error, none hangs
                    for _, _, future in part:
                        if not future.done():
                            future.set_exception(e)
                    continue
                for (_, _, future), row in zip(part, scores):
                    if not future.done():       # a client that hung up cancelled its request
                        future.set_result(row)


class Api:
    """The endpoints' logic over one ``Workspace`` (the FastAPI routes below only call it)."""

    def __init__(self, workspace: Workspace, default_dataset: str = EMBEDDED):
        self.ws = workspace
        self.default_dataset = default_dataset
        self._ids: dict = {}
        self._batchers: dict = {}
        self._lock = threading.Lock()

    def resolve(self, request):
        """The request with its dataset named (the server's default when it names none)."""
        if request.dataset is None:
            request.dataset = self.default_dataset
        return request

    def dataset(self, name: str) -> Dataset:
        try:
            return self.ws.dataset(name)
        except DataError as e:
            if str(e).startswith("unknown dataset"):
                raise NotFound(str(e)) from None
            raise

    def ids(self, name: str, kind: str) -> _Ids:
        ds = self.dataset(name)
        key = (name, kind, ds.fingerprint())
        with self._lock:
            if key not in self._ids:
                self._ids[key] = _Ids(ds.user_ids if kind == "user" else ds.item_ids, kind)
            return self._ids[key]

    def titles(self, ds: Dataset) -> np.ndarray:
        """The item titles as a NumPy array (the table's column is Arrow-backed: slow to index)."""
        key = ("titles", ds.fingerprint())
        with self._lock:
            if key not in self._ids:
                self._ids[key] = ds.items["title"].to_numpy()
            return self._ids[key]

    def model(self, name: str, model: str):
        self.dataset(name)
        try:
            return self.ws.model(name, model)
        except DataError as e:
            raise NotFound(str(e)) from None

    def raw(self, ds: Dataset, items) -> list:
        """Raw item ids (JSON numbers or strings) of item indices."""
        return ds.item_ids[np.asarray(items, np.int64)].tolist()

    def target(self, name: str, t: Target) -> tuple[np.ndarray, int | None]:
        """(history as item indices, user index or None) — a known user's history is the one the app
        shows: everything before their held-out item."""
        if t.user is not None:
            user = self.ids(name, "user")(t.user)
            row = self.ws.test_row(name, user)
            if row is not None:
                return self.ws.split(name).test.histories[row].astype(np.int64), user
            return self.dataset(name).sequences()[user].astype(np.int64), user
        item = self.ids(name, "item")
        return np.array([item(i) for i in t.history], np.int64), None

    def allowed(self, ds: Dataset, o: ListOptions) -> np.ndarray | None:
        if o.genre is None and o.years is None:
            return None
        if o.genre is not None:
            genres = set(ds.genre_matrix()[1])
            if o.genre not in genres:
                raise NotFound(f"unknown genre {o.genre!r}"
                               + (f"; this dataset has: {', '.join(sorted(genres))}" if genres else
                                  "; this dataset has no genres"))
        return ds.item_mask(genre=o.genre, years=tuple(o.years) if o.years else None)

    def recommend_one(self, o: ListOptions, t: Target) -> dict:
        """One list, computed now (re-ranked when asked), with its reasons when ``o.explain``."""
        from recsys.rerank import recommend_reranked, reorders

        ds, model, history, user, exclude, allowed = self._prepare(o, t)
        lam = 1.0 - o.diversity
        items, scores = recommend_reranked(
            model, history, o.k, users=None if user is None else [user], lam=lam,
            vectors=ds.genre_vectors() if o.diversity else None,
            popularity=ds.item_popularity() if o.popularity_penalty else None,
            popularity_penalty=o.popularity_penalty, exclude=exclude, allowed=allowed)
        return self._list_body(o, t, ds, history, user, items, scores,
                               _hidden(model.n_items_, exclude, allowed),
                               reranked=reorders(lam, o.popularity_penalty))

    async def recommend_batched(self, o: ListOptions, t: Target) -> dict:
        """One plain list (no re-ranking, no reasons) from scores computed together with the other
        requests for the same model that are waiting (``Batcher``): the same list as ``recommend_one``."""
        ds, model, history, user, exclude, allowed = self._prepare(o, t)
        key = (o.dataset, o.model, id(model))
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None:
                self._batchers = {k: b for k, b in self._batchers.items() if k[:2] != key[:2]}
                batcher = self._batchers[key] = Batcher(model)
        scores = (await batcher.scores(history, user))[None, :].copy()
        mask_history(scores, [history])
        hidden = _hidden(model.n_items_, exclude, allowed)
        if hidden is not None:
            scores[:, hidden] = -np.inf
        items, top = top_k(scores, o.k)
        return self._list_body(o, t, ds, history, user, items[0], top[0], hidden)

    def _prepare(self, o: ListOptions, t: Target):
        ds, model = self.dataset(o.dataset), self.model(o.dataset, o.model)
        history, user = self.target(o.dataset, t)
        exclude = [self.ids(o.dataset, "item")(i) for i in o.exclude] or None
        return ds, model, history, user, exclude, self.allowed(ds, o)

    def _list_body(self, o, t, ds, history, user, items, scores, hidden=None, reranked=False) -> dict:
        items, scores = np.atleast_1d(np.squeeze(items)), np.atleast_1d(np.squeeze(scores))
        keep = items >= 0                      # a filter can leave fewer than k items: no padding
        items, scores = items[keep], scores[keep]
        titles = self.titles(ds)
        out = [{"rank": r + 1, "item": raw, "title": str(titles[i]), "score": float(s)}
               for r, (i, raw, s) in enumerate(zip(items.tolist(), self.raw(ds, items), scores.tolist()))]
        body = {"dataset": o.dataset, "model": o.model, "user": t.user, "history_length": len(history),
                "items": out}
        if o.explain and len(items):
            body["note"] = self.add_reasons(o.dataset, o.model, history, user, items, out, hidden, reranked)
        return body

    def add_reasons(self, name, model, history, user, items, out, hidden=None, reranked=False
                    ) -> str | None:
        """Each row's reason and counterfactual; ``hidden``: what a filter left out, so that the
        counterfactual ranks among the items the list could show, as the list did; ``reranked``: the
        rows are not in the model's order, so each counterfactual says where the model ranks the item."""
        from recsys.explain import counterfactual_sentence, list_reasons

        ds = self.dataset(name)
        explained = self.ws.explain(name, model, history, user, items, hidden=hidden)
        titles = self.titles(ds)
        ratings = None if user is None else ds.ratings_of(user, history)
        note, reasons = list_reasons(explained, titles, ratings=ratings)
        for row, e, reason in zip(out, explained, reasons):
            row.update(reason=reason, method=e.method,
                       counterfactual=counterfactual_sentence(e, titles,
                                                              shown_at=row["rank"] if reranked else None))
        return note

    def explanation(self, r: ExplainRequest) -> dict:
        from recsys.explain import available_methods, counterfactual_sentence, list_reasons

        ds, model = self.dataset(r.dataset), self.model(r.dataset, r.model)
        history, user = self.target(r.dataset, r)
        item = self.ids(r.dataset, "item")(r.item)
        if r.method is not None:
            names = available_methods(model)
            if r.method not in names:
                raise ParameterError(f"{r.model} cannot be explained by {r.method}; it offers "
                                     f"{', '.join(names)}")
        e = self.ws.explain(r.dataset, r.model, history, user, [item], method=r.method)[0]
        titles = self.titles(ds)
        ratings = None if user is None else ds.ratings_of(user, history)
        raw_history = self.raw(ds, e.history)
        order = np.argsort(-np.abs(e.values), kind="stable")
        credits = [{"position": int(p), "item": raw_history[p], "title": str(titles[e.history[p]]),
                    "credit": float(e.values[p]),
                    **({"error": float(e.error[p])} if e.error is not None else {})} for p in order]
        fact = e.counterfactual
        return {"dataset": r.dataset, "model": r.model, "item": r.item, "title": str(titles[item]),
                "method": e.method, "settings": _plain(e.settings), "uncertainty": e.uncertainty,
                "score": float(e.score), "base_value": float(e.base_value),
                "rank": None if e.rank is None else int(e.rank),
                "reason": list_reasons([e], titles, ratings=ratings)[1][0],
                "credits": credits,
                "counterfactual": None if fact is None else {
                    "found": fact.found, "proved_none": fact.proved_none,
                    "removed": [{"item": raw_history[p], "title": str(titles[e.history[p]])}
                                for p in fact.removed.tolist()],
                    "rank_before": fact.rank_before, "rank_after": fact.rank_after, "cutoff": fact.cutoff,
                    "beyond": [{"item": raw_history[p], "title": str(titles[e.history[p]])}
                               for p in fact.beyond.tolist()],
                    "rank_beyond": fact.rank_beyond,
                    "max_removals": fact.max_removals, "histories_scored": fact.checked,
                    "sentence": counterfactual_sentence(e, titles)}}

    def similar(self, r: SimilarRequest) -> dict:
        ds, model = self.dataset(r.dataset), self.model(r.dataset, r.model)
        item = self.ids(r.dataset, "item")(r.item)
        if model.item_embeddings() is None:
            raise NotApplicable(f"{r.model} has no item vectors; similar items come from models that "
                                "learn them (bpr, gpt, bert, content)")
        items, sims = self.ws.item_index(r.dataset, r.model).similar_items(item, r.k)
        titles = self.titles(ds)
        return {"dataset": r.dataset, "model": r.model, "item": r.item, "title": str(titles[item]),
                "similar": [{"item": raw, "title": str(titles[i]), "similarity": float(s)}
                            for i, raw, s in zip(items.tolist(), self.raw(ds, items), sims.tolist())]}

    def search(self, r: SearchRequest) -> dict:
        ds = self.dataset(r.dataset)
        if not ds.has_item_text:
            raise NotApplicable(f"search reads item text, and {r.dataset!r} has none (only item ids)")
        model = self.model(r.dataset, "content")
        items, sims = self.ws.item_index(r.dataset, "content").search(model.encode_query(r.text), r.k)
        titles = self.titles(ds)
        return {"dataset": r.dataset, "text": r.text,
                "items": [{"item": raw, "title": str(titles[i]), "similarity": float(s)}
                          for i, raw, s in zip(items.tolist(), self.raw(ds, items), sims.tolist())]}

    def evaluate(self, r: EvaluateRequest) -> dict:
        from recsys.pipeline import build_model
        from recsys.service import store_recommendations

        self.dataset(r.dataset)
        path = store_recommendations(r.csv.encode(), r.filename, self.ws.root)
        try:
            built = build_model("proxy", self.ws.split(r.dataset), params={"path": str(path)},
                                store=self.ws.store)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        m = built.manifest
        model = built.model
        return {"dataset": r.dataset, "protocol": m.get("protocol"), "metrics": _defined(m.get("metrics", {})),
                "rows_used": model.rows_, "unknown_users": model.unknown_users_,
                "unknown_items": model.unknown_items_}

    def models(self, name: str) -> list[dict]:
        self.dataset(name)
        out = []
        for model in self.ws.built_models(name):
            m = self.ws.manifest(name, model) or {}
            out.append({"model": model, "metrics": _defined(m.get("metrics", {})),
                        "protocol": m.get("protocol"),
                        "fit_seconds": m.get("fit_seconds"), "params": m.get("params", {}),
                        "built": m.get("created")})
        return out


def _hidden(n_items: int, exclude, allowed) -> np.ndarray | None:
    """The items a list's filters (``exclude``, ``allowed``) leave out, or None when it has none."""
    keep = item_filter(n_items, exclude, allowed)
    return None if keep is None else ~keep


def _plain(value):
    """Settings as JSON: numpy scalars and arrays become numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- the application ----------------------------------------------------------------------------------
def _defined(metrics: dict) -> dict:
    """Metrics as JSON allows them: an undefined one (NaN, e.g. diversity without genres) becomes null."""
    return {k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in metrics.items()}


STATUS = [(NotFound, 404), (NotApplicable, 409), (ArtifactError, 409), (ParameterError, 422),
          (DataError, 422), (RecsysError, 422)]


def create_app(workspace: Workspace | None = None, default_dataset: str | None = None) -> FastAPI:
    """The FastAPI application over ``workspace`` (default: the data folder, $RECLENS_DATA); requests
    that name no dataset use ``default_dataset`` ($RECLENS_SERVE_DATASET, else the embedded one)."""
    default = default_dataset or os.environ.get("RECLENS_SERVE_DATASET") or EMBEDDED
    api = Api(workspace or Workspace(), default)
    threads = os.environ.get("RECLENS_SERVE_THREADS")
    if threads:
        # One request scores one history: torch's own threads only contend with the other requests'
        # (measured by bench/api.py); the server's parallelism is its workers.
        import torch

        torch.set_num_threads(int(threads))
    app = FastAPI(title="RecLens API", version=__version__, docs_url=None, redoc_url=None,
                  description="Recommendations, similar items, search and explanations from every model "
                              "RecLens has built. Ids are the dataset's raw ids.")
    started = time.time()
    _offline_docs(app)

    @app.exception_handler(RecsysError)
    async def _recsys_error(request: Request, error: RecsysError):
        status = next(code for kind, code in STATUS if isinstance(error, kind))
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
        return JSONResponse({"detail": f"{where}: {message}" if where else message},
                            status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        # A bug, not bad input: no trace to the client; the server log has it.
        return JSONResponse({"detail": f"internal error ({type(error).__name__})"}, status_code=500)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "uptime_s": round(time.time() - started, 1),
                "pid": os.getpid()}

    @app.get("/datasets")
    def datasets() -> list[dict]:
        out = []
        for name in api.ws.datasets():
            ds = api.dataset(name)
            out.append({"name": name, "users": ds.n_users, "items": ds.n_items,
                        "interactions": ds.n_interactions, "has_ratings": ds.has_ratings,
                        "has_timestamps": ds.has_timestamps, "has_item_text": ds.has_item_text,
                        "built_models": api.ws.built_models(name)})
        return out

    @app.get("/models")
    def models(dataset: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
               ) -> list[dict]:
        return api.models(dataset or api.default_dataset)

    # Fast answers (a list, similar items) are computed on the event loop: handing each to a thread
    # cost more than the model call (bench/api.py: 5.5 → 3.4 ms a request for GPT). Work that can take
    # seconds (explanations, search's text encoder, evaluation) runs in the thread pool, so it does not
    # hold up other requests.
    @app.post("/recommend")
    async def recommend(r: RecommendRequest) -> JSONResponse:
        api.resolve(r)
        if r.explain:
            return JSONResponse(await run_in_threadpool(api.recommend_one, r, r))
        if r.diversity or r.popularity_penalty:
            return JSONResponse(api.recommend_one(r, r))
        return JSONResponse(await api.recommend_batched(r, r))

    @app.post("/recommend/batch")
    def recommend_batch(r: BatchRequest) -> JSONResponse:
        api.resolve(r)
        return JSONResponse({"results": [api.recommend_one(r, t) for t in r.requests]})

    @app.post("/similar")
    async def similar(r: SimilarRequest) -> JSONResponse:
        return JSONResponse(api.similar(api.resolve(r)))

    @app.post("/search")
    def search(r: SearchRequest) -> JSONResponse:
        return JSONResponse(api.search(api.resolve(r)))

    @app.post("/explain")
    def explain(r: ExplainRequest) -> JSONResponse:
        return JSONResponse(api.explanation(api.resolve(r)))

    @app.post("/evaluate")
    def evaluate(r: EvaluateRequest) -> JSONResponse:
        return JSONResponse(api.evaluate(api.resolve(r)))

    return app


def _offline_docs(app: FastAPI) -> None:
    """The interactive docs at /docs from Swagger UI files installed with the package (swagger-ui-py):
    FastAPI's default page loads them from a CDN, which an offline machine cannot reach."""
    from pathlib import Path

    import swagger_ui
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-assets", StaticFiles(directory=Path(swagger_ui.__file__).parent / "static"),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="RecLens API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


def serve(*, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, dataset: str | None = None,
          log_level: str = "info") -> None:
    """Run the API with uvicorn (``workers`` processes, each loading models on first use)."""
    import uvicorn

    if dataset:
        Workspace().dataset(dataset)                 # an unknown name stops here, not at the first request
        os.environ["RECLENS_SERVE_DATASET"] = dataset  # the workers' create_app reads it
    os.environ.setdefault("RECLENS_SERVE_THREADS", "1")

    uvicorn.run("recsys.api:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)
