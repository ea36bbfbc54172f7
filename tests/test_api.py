"""The HTTP API: every endpoint and error through FastAPI's test client, one real uvicorn process, and an
OpenAPI-driven fuzz run (schemathesis) that must find no 500."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from bench.common import free_port
from recsys.api import MAX_BATCH, MAX_HISTORY, MAX_K, create_app
from recsys.explain import explain_items, list_reasons
from recsys.service import Workspace


@pytest.fixture(scope="module")
def root(app_store, tmp_path_factory):
    """A copy of the session's built models: /evaluate writes a recommendations file and an artifact."""
    copy = tmp_path_factory.mktemp("api") / "data"
    shutil.copytree(app_store, copy)
    return copy


@pytest.fixture(scope="module")
def client(root):
    return TestClient(create_app(Workspace(root)))


def detail(response) -> str:
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str), body
    return body["detail"]


def test_health_datasets_and_models(client):
    assert client.get("/health").json()["status"] == "ok"
    (ml,) = client.get("/datasets").json()
    assert (ml["name"], ml["users"], ml["items"]) == ("ml-100k", 943, 1682)
    models = {m["model"]: m for m in client.get("/models").json()}
    assert {"pop", "itemknn", "markov", "bpr", "gpt", "bert", "content"} <= set(models)
    assert 0 < models["markov"]["metrics"]["ndcg@10"] < 1 and models["gpt"]["protocol"] == "loo"


def test_a_known_users_list_is_the_apps_list_with_the_apps_reasons(client, root):
    ws = Workspace(root)
    user = ws.dataset("ml-100k").user_index(1)
    history = ws.split("ml-100k").test.histories[ws.test_row("ml-100k", user)].astype(np.int64)
    body = client.post("/recommend", json={"model": "gpt", "user": 1, "k": 5, "explain": True}).json()
    model = ws.model("ml-100k", "gpt")
    items, _ = model.recommend(history, k=5, users=[user])
    ds = ws.dataset("ml-100k")
    assert [r["item"] for r in body["items"]] == ds.item_ids[items].tolist()      # raw ids
    assert body["history_length"] == len(history)
    live = explain_items(model, history, items, user=user)                       # what the pages compute
    ratings = {int(i): float(r) for i, r in zip(ds.item[ds.user == user], ds.rating[ds.user == user])}
    _, reasons = list_reasons(live, ds.items["title"].to_numpy(), ratings=ratings)
    assert [r["reason"] for r in body["items"]] == reasons


def test_a_history_of_raw_ids_with_filters(client):
    star_wars, jedi = 50, 181
    body = client.post("/recommend", json={"model": "bpr", "history": [star_wars, "172"], "k": 10,
                                            "exclude": [jedi], "genre": "Comedy",
                                            "years": [1990, 1998]}).json()
    assert body["user"] is None and len(body["items"]) == 10
    assert jedi not in [r["item"] for r in body["items"]]
    for row in body["items"]:
        film = client.post("/similar", json={"model": "bpr", "item": row["item"], "k": 1}).json()
        assert film["item"] == row["item"]
    # A filter that leaves fewer items than k gives a shorter list, not padding.
    few = client.post("/recommend", json={"model": "pop", "history": [1], "k": 50, "genre": "Film-Noir",
                                           "years": [1995, 1995]}).json()["items"]
    assert 0 < len(few) < 50
    # One that leaves none is an empty list with or without re-ranking (the fuzz run once found a 500).
    for knobs in ({}, {"diversity": 0.5}, {"popularity_penalty": 0.5}):
        none = client.post("/recommend", json={"model": "pop", "user": 1, "years": [1800, 1801], **knobs})
        assert none.status_code == 200 and none.json()["items"] == [], (knobs, none.text)


@pytest.mark.parametrize("knobs", [{"genre": "Comedy"}, {"genre": "Comedy", "years": [1990, 1998]},
                                   {"diversity": 0.7}, {"genre": "Drama", "popularity_penalty": 0.5}])
def test_each_counterfactual_starts_where_the_list_shows_the_item(client, knobs):
    # A filtered list ranks within the filter, and so does its counterfactual ("drops from #2" for the
    # filtered #1 was two answers); a re-ranked one says where the model ranks the item first.
    body = client.post("/recommend", json={"model": "itemknn", "user": 1, "k": 10, "explain": True,
                                            **knobs}).json()
    assert len(body["items"]) == 10, body
    for row in body["items"]:
        sentence, place = row["counterfactual"], row["rank"]
        said = f"drops from #{place} to" in sentence or f"re-ranked to #{place} here" in sentence
        assert said, (knobs, place, row["title"], sentence)


def test_batch_equals_single_calls(client):
    targets = [{"user": 1}, {"history": [50, 181]}, {"user": "42"}]
    batch = client.post("/recommend/batch", json={"model": "markov", "k": 3, "requests": targets}).json()
    singles = [client.post("/recommend", json={"model": "markov", "k": 3, **t}).json() for t in targets]
    assert [b["items"] for b in batch["results"]] == [s["items"] for s in singles]


def test_similar_search_and_explain(client):
    similar = client.post("/similar", json={"model": "bpr", "item": 50, "k": 5}).json()
    assert len(similar["similar"]) == 5 and 50 not in [s["item"] for s in similar["similar"]]
    found = client.post("/search", json={"text": "Star Trek", "k": 5}).json()["items"]
    assert sum("Star Trek" in f["title"] for f in found) >= 3, found
    e = client.post("/explain", json={"model": "gpt", "user": 1, "item": 50}).json()
    assert e["method"] == "occlusion" and len(e["credits"]) == 271
    assert abs(e["credits"][0]["credit"]) >= abs(e["credits"][-1]["credit"])
    fact = e["counterfactual"]
    assert fact["sentence"].startswith(("Without", "No set")) and fact["rank_before"] == e["rank"]
    sampled = client.post("/explain", json={"model": "markov", "history": [50, 181, 172], "item": 1,
                                             "method": "shapley"}).json()
    assert sampled["method"] == "shapley" and all("error" in c for c in sampled["credits"])


def test_evaluate_another_tools_lists(client, root):
    csv = "user,item,rank\n" + "".join(f"{u},{i},{r}\n" for u in range(1, 200)
                                       for r, i in enumerate((50, 100, 181, 258, 286), 1))
    body = client.post("/evaluate", json={"csv": csv, "filename": "mine.csv"}).json()
    assert body["rows_used"] == 995 and 0 <= body["metrics"]["hr@10"] <= 1
    bad = client.post("/evaluate", json={"csv": "user,item\n1,2\n", "filename": "../../etc/x.csv"})
    assert bad.status_code == 422 and "rank" in detail(bad)
    kept = sorted(p.name for p in (root / "recommendations").iterdir())
    assert len(kept) == 1 and kept[0].startswith("mine-")          # the bad file was not kept


@pytest.mark.parametrize("path, body, status, words", [
    ("/recommend", {"model": "nope", "user": 1}, 422, "model: Input should be 'bert'"),
    ("/recommend", {"model": "gpt", "user": 999999}, 404, "unknown user 999999"),
    ("/recommend", {"model": "gpt", "history": [1, 999999]}, 404, "unknown item 999999"),
    ("/recommend", {"model": "gpt", "history": []}, 422, "history is empty"),
    ("/recommend", {"model": "gpt"}, 422, "exactly one of 'user' and 'history'"),
    ("/recommend", {"model": "gpt", "user": 1, "history": [1]}, 422, "exactly one"),
    ("/recommend", {"model": "gpt", "user": 1, "k": 0}, 422, "k:"),
    ("/recommend", {"model": "gpt", "user": 1, "k": MAX_K + 1}, 422, "k:"),
    ("/recommend", {"model": "gpt", "user": 1, "k": "ten"}, 422, "k:"),
    ("/recommend", {"model": "gpt", "user": True}, 422, "user"),
    ("/recommend", {"model": "gpt", "history": list(range(1, MAX_HISTORY + 2))}, 422, "history:"),
    ("/recommend", {"model": "gpt", "user": 1, "colour": "red"}, 422, "colour"),
    ("/recommend", {"dataset": "../../etc", "model": "gpt", "user": 1}, 404, "unknown dataset"),
    ("/recommend", {"model": "ease", "user": 1}, 409, "make build"),
    ("/recommend", {"model": "gpt", "user": 1, "genre": "Polka"}, 404, "unknown genre 'Polka'"),
    ("/recommend/batch", {"model": "gpt", "requests": [{"user": 1}] * (MAX_BATCH + 1)}, 422, "requests"),
    ("/similar", {"model": "itemknn", "item": 50}, 409, "no item vectors"),
    ("/similar", {"model": "bpr", "item": "Star Wars"}, 404, "unknown item"),
    ("/explain", {"model": "pop", "user": 1, "item": 50, "method": "attention"}, 422, "cannot be explained"),
    ("/search", {"text": ""}, 422, "text"),
])
def test_bad_requests_get_one_clear_message(client, path, body, status, words):
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    assert words in detail(response)


def test_not_json_is_a_422(client):
    response = client.post("/recommend", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and detail(response)


def test_a_model_built_later_is_served_without_a_restart(tmp_path):
    from recsys.pipeline import build_model
    from recsys.split import leave_one_out

    ws = Workspace(tmp_path / "data")
    client = TestClient(create_app(ws))
    split = leave_one_out(ws.dataset("ml-100k"))
    build_model("pop", split, store=ws.store)
    assert [m["model"] for m in client.get("/models").json()] == ["pop"]
    assert client.post("/recommend", json={"model": "itemknn", "user": 1}).status_code == 409
    build_model("itemknn", split, store=ws.store)
    assert client.post("/recommend", json={"model": "itemknn", "user": 1}).status_code == 200


def test_a_real_server_process(root):
    port = free_port()
    env = {**os.environ, "RECLENS_DATA": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "recsys", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(300):
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    proc.poll()
                    assert proc.returncode is None, proc.stdout.read().decode()[-2000:]
                    import time
                    time.sleep(0.1)
            body = http.post("/recommend", json={"model": "markov", "user": 1, "k": 3}).json()
            assert len(body["items"]) == 3
            # The docs page loads Swagger UI from this server, not a CDN (the machine may be offline).
            docs = http.get("/docs").text
            assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs
            assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
            assert "/recommend" in http.get("/openapi.json").json()["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def operations(root) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Workspace(root)))
    return [result.ok() for result in schema.get_all_operations()]


def test_fuzz_finds_no_server_error(root):
    """Requests generated from the OpenAPI schema (valid and invalid bodies, odd strings and numbers) for
    every operation: 4xx with a message is fine, a 500 is a bug. Run operation by operation, so a
    failure names its endpoint."""
    ops = operations(root)
    assert {f"{op.method.upper()} {op.path}" for op in ops} >= {
        "GET /health", "GET /datasets", "GET /models", "POST /recommend", "POST /recommend/batch",
        "POST /similar", "POST /search", "POST /explain", "POST /evaluate"}
    for op in ops:
        @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        @given(op.as_strategy())
        def check(case):
            response = case.call()
            assert response.status_code < 500, (f"{op.method.upper()} {op.path}", case.body, response.text)
            if response.status_code >= 400:
                assert isinstance(response.json().get("detail"), str), response.text
        check()


@pytest.mark.parametrize("model", ["gpt", "bpr"])
def test_concurrent_requests_batched_into_one_call_get_the_single_lists(root, model):
    import asyncio

    from recsys.api import Api, RecommendRequest

    api = Api(Workspace(root))
    requests = [api.resolve(RecommendRequest(model=model, k=10, **t))
                for t in ({"user": 1}, {"user": 42}, {"history": [50, 181]}, {"user": 381},
                          {"history": [1, 2, 3, 4, 5, 6, 7]})]
    calls = []
    scorer = api.model("ml-100k", model)
    original = scorer.score
    scorer.score = lambda histories, users=None: calls.append(len(histories)) or original(histories, users)
    try:
        async def together():
            return await asyncio.gather(*(api.recommend_batched(r, r) for r in requests))
        batched = asyncio.run(together())
    finally:
        scorer.score = original
    assert sorted(calls) == [2, 3]                    # bare histories and known users: two calls
    for r, got in zip(requests, batched):
        alone = api.recommend_one(r, r)["items"]
        # The same items in the same order; a padded batch may move a score in its 7th digit.
        assert [i["item"] for i in got["items"]] == [i["item"] for i in alone], (r.user, r.history)
        assert [i["score"] for i in got["items"]] == pytest.approx([i["score"] for i in alone], rel=1e-5)


def test_a_catalogue_without_genres_has_its_metrics_as_json(tmp_path):
    # Diversity is undefined without genres (NaN in the manifest); JSON has no NaN, so it is null
    # rather than a 500.
    from recsys.pipeline import build_model

    folder = tmp_path / "datasets" / "seq"
    folder.mkdir(parents=True)
    (folder / "seq.txt").write_text("".join(f"{u} {(u * 7 + s) % 40 + 1}\n" for u in range(1, 60)
                                            for s in range(6)))
    ws = Workspace(tmp_path)
    build_model("pop", ws.split("seq"), store=ws.store)
    client = TestClient(create_app(ws))
    response = client.get("/models", params={"dataset": "seq"})
    assert response.status_code == 200, response.text
    (pop,) = response.json()
    assert pop["metrics"]["ild@10"] is None and 0 <= pop["metrics"]["ndcg@10"] <= 1
    missing = client.post("/recommend", json={"dataset": "seq", "model": "gpt", "user": 1})
    assert missing.status_code == 409 and "make build DATASET=" in detail(missing)
