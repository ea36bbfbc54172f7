"""The path from a dataset to a trained, evaluated, stored model, shared by the CLI and the app.

``build_model`` loads a model from the artifact store when a valid artifact exists; otherwise it fits
the model on the split's train part, evaluates it on the test part, and stores both.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from recsys.artifacts import EXPLANATIONS, ArtifactStore
from recsys.data import Dataset, load_dataset
from recsys.errors import ArtifactError
from recsys.evaluate import DEFAULT_K, evaluate
from recsys.explain.store import is_current, precompute
from recsys.models import Recommender, get_model, model_class
from recsys.models.registry import BUILTIN, DEFAULT_MODELS
from recsys.progress import Progress, scaled
from recsys.projection import cached_projection, cached_user_vectors
from recsys.split import Split, make_split

def default_models() -> tuple[str, ...]:
    """The models the app and `python -m recsys build` maintain: $RECLENS_MODELS (comma-separated)
    or DEFAULT_MODELS. A shorter list suits a big dataset or a quick demo."""
    env = os.environ.get("RECLENS_MODELS", "").strip()
    if not env:
        return DEFAULT_MODELS
    names = tuple(m.strip() for m in env.split(",") if m.strip())
    for name in names:
        model_class(name)  # ParameterError naming the known models
    return names


@dataclass
class BuiltModel:
    model: Recommender
    manifest: dict
    loaded: bool  # True: read from the store; False: trained now
    rebuilt_because: str | None = None


def build_model(name: str, split: Split, *, params: dict | None = None,
                store: ArtifactStore | None = None, k=DEFAULT_K, force: bool = False,
                explanations: bool = True, progress: Progress | None = None) -> BuiltModel:
    """The model from the store, or trained, evaluated and stored now. ``explanations``: explain every
    test user's list and store that with the model (the Users page reads it); False skips that for a
    loaded model that has none (benchmarks that only need the model)."""
    store = store or ArtifactStore()
    model = get_model(name, **(params or {}))
    key = store.key(name, model.get_params(), split.train)
    reason = "forced" if force else None
    if not force:
        try:
            loaded = store.load(key)
            if explanations and not is_current(store.explanations(key)):
                # Built before explanations were stored with models (or by an older search): add
                # them, no retraining.
                store.attach(key, EXPLANATIONS, precompute(loaded, split.test, progress=progress))
            return BuiltModel(loaded, store.manifest(key), loaded=True)
        except ArtifactError as e:
            reason = str(e)
    teacher = {}
    if getattr(model, "distill_weight", 0) and model.teacher in BUILTIN:
        # A student learns from its teacher on the same split: built (or loaded) first.
        teacher["teacher"] = build_model(model.teacher, split, store=store, k=k, explanations=explanations,
                                         progress=progress).model
    start = time.perf_counter()
    model.fit(split.train, valid=split.valid, progress=scaled(progress, 0.0, 0.8), **teacher)
    fit_seconds = time.perf_counter() - start
    from recsys import distributed  # imports torch: not at module level, the app's first page avoids it

    if not distributed.is_main():
        # Under torchrun every process holds the same trained model; only rank 0 evaluates and saves.
        return BuiltModel(model, {"fit_seconds": round(fit_seconds, 3)}, loaded=False, rebuilt_because=reason)
    result = evaluate(model, split.test, split.train, k=k, protocol=split.protocol,
                      progress=scaled(progress, 0.8, 0.85))
    metrics = dict(result.metrics)
    if hasattr(model, "rating_errors") and split.train.has_ratings:
        metrics.update(model.rating_errors(split.test))  # the held-out items' ratings
    # The Users page reads these instead of explaining on every user switch.
    start = time.perf_counter()
    explanations = precompute(model, split.test, progress=scaled(progress, 0.85, 0.98))
    explain_seconds = time.perf_counter() - start
    store.save(model, split.train, metrics=metrics, evaluation=result.arrays(), explanations=explanations,
               extra={"fit_seconds": round(fit_seconds, 3), "explain_seconds": round(explain_seconds, 3),
                      "protocol": split.protocol})
    if model.item_embeddings() is not None:
        # The Embeddings page only reads projections; UMAP runs here, once per model.
        if progress:
            progress(0.99, "UMAP projection of the item embeddings")
        cached_projection(model.item_embeddings(), dims=2)
        users = cached_user_vectors(model, split.test, key.name)
        if users is not None:
            cached_projection(users[1], dims=2)
    if progress:
        progress(1.0, f"{name} trained in {fit_seconds:.1f} s")
    return BuiltModel(model, store.manifest(key), loaded=False, rebuilt_because=reason)


def build_all(dataset: Dataset | None = None, models=None, *, protocol: str = "loo",
              store: ArtifactStore | None = None, progress: Progress | None = None
              ) -> dict[str, BuiltModel]:
    """Build every missing model of ``models`` on the dataset (the embedded one by default)."""
    dataset = dataset or load_dataset()
    models = models or default_models()
    store = store or ArtifactStore()
    store.clean_temporary()                      # what killed saves left behind
    split = make_split(dataset, protocol)
    out = {}
    for i, name in enumerate(models):
        out[name] = build_model(name, split, store=store,
                                progress=scaled(progress, i / len(models), (i + 1) / len(models)))
    return out
