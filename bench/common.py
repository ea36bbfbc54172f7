"""Helpers every benchmark shares: machine facts, a table printer, the JSON writer, and starting the app
in a server process (also used by tests/test_browser.py)."""
from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys.io import atomic_write_json  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def machine() -> dict:
    import torch

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d")}


def free_port() -> int:
    """A TCP port nobody listens on now (for a server the benchmark starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, *, env: dict | None = None, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """`streamlit run app.py` on ``port``, headless, in a server process."""
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT)


def wait_for_app(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once the server answers its health check; RuntimeError (with the end of its output, when
    captured) if it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    output = proc.stdout.read().decode(errors="replace")[-2000:] if proc.stdout else ""
    raise RuntimeError(f"the Streamlit server did not start within {timeout:.0f} s: {output}")


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(rows: list[dict], columns: list[str]) -> None:
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else str(v)


def command_line() -> str:
    """This run's command, the script named relative to the repository (no machine's paths in results)."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else Path(sys.argv[0])
    return shlex.join([str(shown), *sys.argv[1:]])  # quoted: a JSON argument pastes back into a shell


def _models_of(command: str) -> set[str] | None:
    """The models a recorded command ran (``--models a,b`` or ``--models a b``), or None for its defaults."""
    words = shlex.split(command)
    if "--models" not in words[:-1]:
        return None
    names = []
    for word in words[words.index("--models") + 1:]:
        if word.startswith("--"):
            break
        names += [w for w in word.split(",") if w]
    return set(names)


def _row_key(row: dict) -> tuple:
    return row["model"], row.get("method")


def merge_results(name: str, fields: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], list[str]]:
    """``--merge``: this run's rows (per field, each row naming its "model") in place of the same models'
    rows of bench/results/<name>.json, the other rows kept; and the commands behind the merged rows (a
    command whose every model has been re-run is dropped)."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return fields, [command_line()]
    old = json.loads(path.read_text())
    merged = {}
    for field, rows in fields.items():
        # A row is one model's, or one (model, method)'s where a run measures several methods. In the old
        # order: a row this run re-made is replaced; a re-run model's row it did not re-make, dropped.
        new = {_row_key(r): r for r in rows}
        rerun = {r["model"] for r in rows}
        merged[field] = [new.pop(_row_key(r)) if _row_key(r) in new else r for r in old.get(field) or []
                         if _row_key(r) in new or r["model"] not in rerun] + list(new.values())
    done = {r["model"] for rows in fields.values() for r in rows}
    commands = [c for c in old.get("commands") or [old.get("command", "")]
                if c and not ((ran := _models_of(c)) is not None and ran <= done)]
    return merged, commands + [command_line()]


def write_results(name: str, payload: dict) -> Path:
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {"machine": machine(), "command": command_line(), **payload})
    print(f"wrote {path.relative_to(ROOT)}")
    return path
