"""Concurrent sessions against one running server (`make build` first).

    .venv/bin/python bench/concurrency.py [--sessions 20] [--page users]

Starts `streamlit run app.py`, opens one page in N browser sessions at once (headless Chromium, one
context per session, each a different user), and reports per-session render time (until Streamlit marks
the script run finished), whether every session rendered without an exception box, and the server's
resident memory before and after — models live in st.cache_resource, so sessions share them and memory
should grow by far less than one copy of the models per session. Writes bench/results/concurrency.json.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

from common import free_port, print_table, start_app, wait_for_app, write_results


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def session(browser, url: str) -> tuple[float, bool]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    start = time.perf_counter()
    await page.goto(url)
    await page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=300_000)
    await page.wait_for_selector("h1", timeout=60_000)
    elapsed = time.perf_counter() - start
    ok = await page.locator("[data-testid=stException]").count() == 0
    await context.close()
    return elapsed, ok


async def run(port: int, sessions: int, page: str, users: list[str]) -> list[tuple[float, bool]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium",
                                          args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        warm = await session(browser, f"http://127.0.0.1:{port}/{page}?user={users[0]}")  # load models once
        print(f"warm-up session: {warm[0]:.1f} s")
        results = await asyncio.gather(*[
            session(browser, f"http://127.0.0.1:{port}/{page}?user={users[i % len(users)]}")
            for i in range(sessions)])
        await browser.close()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--page", default="users")
    args = p.parse_args()
    port = free_port()
    server = start_app(port)
    try:
        wait_for_app(port, server)
        users = [str(u) for u in range(1, args.sessions + 1)]
        asyncio.run(run(port, 0, args.page, users))  # a first session loads data and models
        before = rss_mib(server.pid)
        results = asyncio.run(run(port, args.sessions, args.page, users[1:] + users[:1]))
        after = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait()
    times = np.array([t for t, _ in results])
    row = {"page": args.page, "sessions": args.sessions, "all_rendered": all(ok for _, ok in results),
           "p50_s": float(np.median(times)), "p95_s": float(np.percentile(times, 95)),
           "max_s": float(times.max()), "rss_before_mib": before, "rss_after_mib": after,
           "rss_per_session_mib": (after - before) / args.sessions}
    print_table([row], list(row))
    write_results("concurrency", {"rows": [row], "times_s": times.tolist()})


if __name__ == "__main__":
    main()
