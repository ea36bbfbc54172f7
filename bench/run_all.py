"""Run every benchmark in bench/ (each prints its table and writes bench/results/<name>.json), then
regenerate the README tables from the results (bench/report.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"common.py", "run_all.py", "report.py"}

if __name__ == "__main__":
    failed = []
    for script in sorted(HERE.glob("*.py")):
        if script.name in SKIP:
            continue
        print(f"\n== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE).returncode != 0:
            failed.append(script.name)
    # Tables of the benchmarks that failed keep their previous numbers (their JSON was not rewritten).
    subprocess.run([sys.executable, str(HERE / "report.py")], cwd=HERE, check=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
