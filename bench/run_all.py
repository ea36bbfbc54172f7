"""Run every benchmark in bench/ (each prints its table and writes bench/results/<name>.json), then
regenerate the README tables from the results (bench/report.py).

    .venv/bin/python bench/run_all.py [--only compress distributed ...]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"common.py", "run_all.py", "report.py"}
# Benchmarks that take a dataset outside the repository: run when it is there ($RECLENS_BEAUTY, or the
# shared folder beside the checkout), said and skipped otherwise.
BEAUTY = Path(os.environ.get("RECLENS_BEAUTY") or HERE.parents[1] / "shared/datasets/amazon-beauty/beauty.txt")
ARGUMENTS = {"catalogue.py": ["--dataset", str(BEAUTY)]}

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (file names without .py)")
    args = p.parse_args()
    scripts = [s for s in sorted(HERE.glob("*.py")) if s.name not in SKIP]
    if args.only:
        unknown = set(args.only) - {s.stem for s in scripts}
        if unknown:
            sys.exit(f"no such benchmark: {', '.join(sorted(unknown))}")
        scripts = [s for s in scripts if s.stem in args.only]
    failed = []
    for script in scripts:
        print(f"\n== {script.name}", flush=True)
        if script.name == "catalogue.py" and not BEAUTY.is_file():
            print(f"skipped: no Amazon Beauty file at {BEAUTY} (set RECLENS_BEAUTY)")
            continue
        if subprocess.run([sys.executable, str(script), *ARGUMENTS.get(script.name, [])],
                          cwd=HERE).returncode != 0:
            failed.append(script.name)
    # Tables of the benchmarks that failed keep their previous numbers (their JSON was not rewritten).
    subprocess.run([sys.executable, str(HERE / "report.py")], cwd=HERE, check=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
