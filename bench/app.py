"""App latency with the built models (`make build` first).

    .venv/bin/python bench/app.py [--users 20]

1. First render: seconds from launching `streamlit run app.py` until headless Chromium shows the Overview
   page's statistics (server start, imports, dataset load, first script run).
2. Switching user on the Users page, server side: the script run after changing the user (AppTest runs
   the same script in-process), for the default side-by-side (GPT | BERT | MF), each user new to the
   cache. Targets: first render <= 5 s, switch <= 300 ms.
Writes bench/results/app.json.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from common import ROOT, free_port, print_table, start_app, write_results


def first_render() -> float:
    from playwright.sync_api import sync_playwright

    port = free_port()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        start = time.perf_counter()
        proc = start_app(port)
        try:
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                    break
                except Exception:  # noqa: BLE001 - connection refused until the server listens
                    time.sleep(0.05)
            page.wait_for_selector("[data-testid=stMetric]", timeout=60_000)
            return time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait()
            browser.close()


def switch_user(n_users: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    from recsys.data import load_dataset
    from recsys.split import leave_one_out

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["models"] = "gpt,bert,bpr"
    at.run()
    at.switch_page("views/users.py").run()  # loads the models once
    ds = load_dataset()
    users = leave_one_out(ds).test.users
    rng = np.random.default_rng(0)
    times = []
    for u in rng.choice(users, n_users, replace=False):
        at.session_state["user"] = str(ds.user_ids[u])
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--renders", type=int, default=3)
    args = p.parse_args()
    renders = [first_render() for _ in range(args.renders)]
    switches = switch_user(args.users)
    rows = [{"measure": "first render after server start (s)", "p50": float(np.median(renders)),
             "max": float(np.max(renders)), "n": len(renders), "target": 5.0},
            {"measure": "switch user, Users page, server side (ms)",
             "p50": float(np.median(switches) * 1000), "max": float(np.max(switches) * 1000),
             "p95": float(np.percentile(switches, 95) * 1000), "n": len(switches), "target": 300.0}]
    print_table(rows, ["measure", "p50", "p95", "max", "n", "target"])
    write_results("app", {"rows": rows, "renders_s": renders, "switch_s": switches,
                          "data": os.environ.get("RECLENS_DATA", "data")})


if __name__ == "__main__":
    main()
