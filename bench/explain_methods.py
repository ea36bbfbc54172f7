"""Every explanation method of every default model on the same 50 test users: the comparison behind
each model's default method (recsys.explain.methods.DEFAULT_METHOD).

    .venv/bin/python bench/explain_methods.py [--users 50]

Runs bench/explain_quality.py with --methods all; writes bench/results/explain_methods.json.
"""
import sys

from explain_quality import main

if __name__ == "__main__":
    main(["--users", "50", "--methods", "all", "--out", "explain_methods", *sys.argv[1:]])
