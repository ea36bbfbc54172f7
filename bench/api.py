"""Latency and throughput of the HTTP API's /recommend (`make build` first).

    .venv/bin/python bench/api.py [--models gpt,bert,bpr] [--clients 1,10,50] [--seconds 8] [--workers 1]

Starts `python -m recsys serve` on a free port (its own process, ``--workers`` uvicorn workers), warms
every model up, then for each model, each number of concurrent clients and with / without
``explain: true`` keeps that many async httpx clients sending /recommend (k = 10, a different test user
each request, their lists' explanations stored with the model), each client sending its next request
when the last is answered, for ``--seconds``. Reports p50 / p99
latency, requests per second and errors, and the server's resident memory (all workers) after the run.
The load generator (asyncio, a minimal HTTP/1.1 client: a few percent of a core) runs on the same
2 cores as the server.
Writes bench/results/api.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import numpy as np

from common import ROOT, free_port, print_table, write_results

COLUMNS = ["model", "explain", "clients", "requests", "errors", "p50_ms", "p99_ms", "rps"]


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's workers)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            children = open(f"/proc/{p}/task/{p}/children").read().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for JSON POSTs: a load
    generator much lighter than an HTTP library, so that the figures are the server's."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def post(self, path: str, body: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        length = int({k.lower(): v for k, v in headers.items()}["content-length"])
        return int(lines[0].split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def load(port: int, model: str, clients: int, seconds: float, explain: bool, users: list[int]) -> dict:
    latencies, errors, failures = [], 0, []
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def client():
        nonlocal errors
        connection = Connection(port)
        try:
            while time.perf_counter() < stop:
                user = users[next(counter) % len(users)]
                start = time.perf_counter()
                try:
                    status, _ = await connection.post("/recommend", {"model": model, "user": user, "k": 10,
                                                                     "explain": explain})
                except (OSError, asyncio.IncompleteReadError) as e:   # a dropped connection: a failure
                    errors += 1
                    failures.append(f"{type(e).__name__}: {e}")
                    connection.close()
                    connection = Connection(port)
                    continue
                latencies.append((time.perf_counter() - start) * 1000)
                errors += status != 200
        finally:
            connection.close()

    begun = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - begun
    lat = np.array(latencies)
    return {"model": model, "explain": explain, "clients": clients, "requests": len(lat), "errors": errors,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "rps": len(lat) / elapsed, "failures": sorted(set(failures))[:5]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="gpt,bert,bpr")
    p.add_argument("--clients", default="1,10,50")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "recsys", "serve", "--port", str(port),
                               "--workers", str(args.workers)], cwd=ROOT, env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    rows = []
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            sys.exit("the API server did not start")
        models = [m for m in args.models.split(",") if m]
        # The test users whose lists were explained at build time (the first 2,000 of the test split).
        from recsys.data import load_dataset
        from recsys.split import make_split

        split = make_split(load_dataset(), "loo")
        users = [int(u) for u in split.train.user_ids[split.test.users[:500]]]
        for model in models:                     # load each model (and its explanations) in every worker
            for user in users[:20 * args.workers]:
                r = httpx.post(f"{url}/recommend", json={"model": model, "user": user, "explain": True},
                               timeout=300)
                if r.status_code != 200:
                    sys.exit(f"{model}: {r.status_code} {r.text[:300]} (run `make build` first)")
        idle = tree_rss_mib(server.pid)
        for model in models:
            for explain in (False, True):
                for clients in [int(c) for c in args.clients.split(",")]:
                    rows.append(asyncio.run(load(port, model, clients, args.seconds, explain, users)))
                    print_table(rows[-1:], COLUMNS)
        rss = tree_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print_table(rows, COLUMNS)
    print(f"server memory: {idle:,.0f} MiB with the models loaded, {rss:,.0f} MiB after the run "
          f"({args.workers} worker{'s' * (args.workers > 1)})")
    write_results("api", {"workers": args.workers, "seconds_per_cell": args.seconds, "results": rows,
                          "server_rss_mib_loaded": idle, "server_rss_mib_after": rss})


if __name__ == "__main__":
    main()
