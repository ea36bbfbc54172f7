"""The trained-model store: data/artifacts/<dataset fingerprint>/<model>-<config hash>/.

Each artifact folder holds the model's own files (``Recommender.save``) and ``manifest.json``: library
version, creation time, hyper-parameters, config hash, the training data's fingerprint, metrics, and a
SHA-256 of every file. A save is written into a hidden temporary folder and renamed into place, so a
killed process leaves no artifact that loads. A load verifies the checksums, the version and the config
first; anything that does not match raises ArtifactError (and the pipeline rebuilds it).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys import __version__
from recsys.cache import data_root
from recsys.data.dataset import Dataset
from recsys.errors import ArtifactError
from recsys.io import atomic_save_npz, atomic_write_json, load_npz
from recsys.models.registry import model_class, model_facts

MANIFEST = "manifest.json"
EVALUATION = "evaluation.npz"  # per-user metrics and top lists of the test evaluation
EXPLANATIONS = "explanations.npz"  # explanations of the test users' lists (recsys.explain.store)


def default_root() -> Path:
    return data_root() / "artifacts"


def config_hash(model: str, params: dict) -> str:
    config = {"model": model, "params": params}
    revision = model_facts(model).revision
    if revision:  # only then, so that the other models' artifacts keep their keys
        config["revision"] = revision
    blob = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def params_gone(manifest: dict) -> list[str]:
    """The hyper-parameters an artifact was built with that its model no longer takes (renamed or
    removed since): such an artifact cannot be loaded."""
    return sorted(set(manifest.get("params") or {}) - set(model_facts(manifest["model"]).param_names))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _changed_params(model) -> dict:
    """The hyper-parameters that differ from the model's defaults (readers need not import the model)."""
    defaults = type(model)().get_params()
    return {k: v for k, v in model.get_params().items() if defaults.get(k) != v}


@dataclass(frozen=True)
class ArtifactKey:
    fingerprint: str
    model: str
    config: str

    @property
    def name(self) -> str:
        """One string for the artifact, for caches of what is derived from it."""
        return f"{self.fingerprint}-{self.model}-{self.config}"

    @property
    def relpath(self) -> Path:
        return Path(self.fingerprint) / f"{self.model}-{self.config}"


class ArtifactStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def key(self, model: str, params: dict, train: Dataset) -> ArtifactKey:
        return ArtifactKey(train.fingerprint(), model, config_hash(model, params))

    def path(self, key: ArtifactKey) -> Path:
        return self.root / key.relpath

    def save(self, model, train: Dataset, *, metrics: dict | None = None, extra: dict | None = None,
             evaluation: dict[str, np.ndarray] | None = None,
             explanations: dict[str, np.ndarray] | None = None) -> Path:
        """Store a fitted model atomically; an existing artifact with the same key is replaced.

        ``evaluation`` (per-user metric vectors and top lists) and ``explanations`` (the test users'
        lists explained) are stored beside it, checksummed too.
        """
        key = self.key(model.name, model.get_params(), train)
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{final.name}-"))
        try:
            tmp.chmod(0o755)
            model.save(tmp)
            if evaluation is not None:
                atomic_save_npz(tmp / EVALUATION, evaluation)
            if explanations is not None:
                atomic_save_npz(tmp / EXPLANATIONS, explanations)
            files = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
            manifest = {
                "library_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "model": model.name, "params": model.get_params(), "config_hash": key.config,
                "changed_params": _changed_params(model),
                "dataset": {"fingerprint": key.fingerprint, "name": train.name, "users": train.n_users,
                            "items": train.n_items, "interactions": train.n_interactions},
                "metrics": metrics or {}, "files": files, **(extra or {}),
            }
            atomic_write_json(tmp / MANIFEST, manifest)
            if final.exists():
                old = final.with_name(f".old-{final.name}-{os.getpid()}")
                os.replace(final, old)
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def manifest(self, key: ArtifactKey) -> dict:
        """The verified manifest of an artifact; ArtifactError if missing, stale or corrupt."""
        path = self.path(key)
        if not path.is_dir():
            raise ArtifactError(f"no artifact at {path}")
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{path}: manifest unreadable ({e})") from None
        if manifest.get("library_version") != __version__:
            raise ArtifactError(f"{path}: built by recsys {manifest.get('library_version')}, "
                                f"this is {__version__}")
        if manifest.get("config_hash") != key.config or manifest.get("model") != key.model:
            raise ArtifactError(f"{path}: built for another model or config")
        if manifest.get("dataset", {}).get("fingerprint") != key.fingerprint:
            raise ArtifactError(f"{path}: built on other data")
        # Checked here, not only when loading, so that "is it built?" (which does not load) agrees.
        if gone := params_gone(manifest):
            raise ArtifactError(f"{path}: built with hyper-parameters this version of {key.model} does not "
                                f"take ({', '.join(gone)}); rebuild it (make build)")
        files = manifest.get("files") or {}
        if not files:
            raise ArtifactError(f"{path}: manifest lists no files")
        for name, digest in files.items():
            f = path / name
            if not f.is_file() or _sha256(f) != digest:
                raise ArtifactError(f"{path}: {name} is missing or does not match its checksum")
        return manifest

    def load(self, key: ArtifactKey):
        """The verified model stored under ``key``."""
        self.manifest(key)
        return model_class(key.model).load(self.path(key))

    def evaluation(self, key: ArtifactKey) -> dict[str, np.ndarray] | None:
        """The verified per-user evaluation stored with a model, or None if it was stored without."""
        self.manifest(key)
        path = self.path(key) / EVALUATION
        return load_npz(path) if path.is_file() else None

    def explanations(self, key: ArtifactKey) -> dict[str, np.ndarray] | None:
        """The verified stored explanations of a model's test users, or None if stored without."""
        if EXPLANATIONS not in self.manifest(key)["files"]:
            return None
        return load_npz(self.path(key) / EXPLANATIONS)

    def attach(self, key: ArtifactKey, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Add an .npz file to a verified artifact (explanations for one built before they existed).
        The file is written first and the manifest then lists it, each atomically: a process killed in
        between leaves an unlisted file, which nothing reads."""
        manifest = self.manifest(key)
        path = self.path(key) / name
        atomic_save_npz(path, arrays)
        manifest["files"] = {**manifest["files"], name: _sha256(path)}
        manifest.pop("path", None)
        atomic_write_json(self.path(key) / MANIFEST, manifest)

    def list(self, fingerprint: str | None = None) -> list[dict]:
        """Manifests of every readable artifact (of one dataset, if given), newest first."""
        out = []
        roots = [self.root / fingerprint] if fingerprint else (
            [p for p in self.root.iterdir() if p.is_dir()] if self.root.is_dir() else [])
        for folder in roots:
            if not folder.is_dir():
                continue
            for art in folder.iterdir():
                if art.name.startswith(".") or not (art / MANIFEST).is_file():
                    continue
                try:
                    m = json.loads((art / MANIFEST).read_text())
                except (OSError, ValueError):
                    continue
                m["path"] = str(art)
                out.append(m)
        return sorted(out, key=lambda m: m.get("created", ""), reverse=True)

    def clean_temporary(self, older_than: float = 3600.0) -> int:
        """Remove leftovers of interrupted saves last touched more than ``older_than`` seconds ago (a
        younger one may be another process's save in progress); returns how many."""
        n = 0
        if self.root.is_dir():
            cutoff = time.time() - older_than
            for leftover in [*self.root.glob("*/.tmp-*"), *self.root.glob("*/.old-*")]:
                try:
                    if leftover.stat().st_mtime > cutoff:
                        continue
                except OSError:
                    continue
                shutil.rmtree(leftover, ignore_errors=True)
                n += 1
        return n
