"""Every page through AppTest, against the session's store of small models (conftest.app_store)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"


@pytest.fixture(autouse=True)
def built(app_store, isolated_data, monkeypatch):
    monkeypatch.setenv("RECLENS_DATA", str(app_store))


def page(path: str, **params) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"views/{path}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def lists(at: AppTest) -> list[list[str]]:
    """Each model's titles, from the page's "all lists as a table" view."""
    table = next(df.value for df in at.dataframe if "model" in df.value.columns)
    return [table.loc[table["model"] == m, "title"].tolist() for m in table["model"].unique()]


def test_sidebar_takes_models_and_user_from_the_url():
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["models"], at.query_params["user"] = "itemknn,markov", "10"
    at.run()
    assert at.sidebar.multiselect(key="models").value == ["itemknn", "markov"]
    assert at.sidebar.text_input(key="user").value == "10"
    at.switch_page("views/users.py").run()
    assert at.query_params["user"] == "10" and at.query_params["models"] == "itemknn,markov"
    assert at.metric[0].value == "10"


def test_the_held_out_item_shows_its_rating():
    at = page("users", models="markov", user="1")
    held = {m.label: m.value for m in at.metric}["Held-out test item"]
    assert held.endswith("★)") and "nan" not in held, held


def test_a_model_named_twice_in_the_url_is_shown_once():
    at = page("users", models="markov,markov,itemknn")
    assert at.session_state["models"] == ["markov", "itemknn"] and len(lists(at)) == 2


@pytest.mark.parametrize("path", ["users", "playground"])
def test_no_model_chosen_asks_for_one_instead_of_offering_a_build(path):
    at = page(path)
    at.sidebar.multiselect(key="models").set_value([]).run()
    assert not at.exception
    infos = [i.value for i in at.info]
    assert any("No model chosen" in i for i in infos), infos
    assert not any("Not built yet" in i for i in infos), infos
    assert not any(b.label.startswith("Build") for b in at.button)


def test_default_models_are_gpt_bert_mf_side_by_side():
    at = page("users")
    assert at.session_state["models"] == ["gpt", "bert", "bpr"]
    got = lists(at)
    assert len(got) == 3 and all(len(x) == 10 for x in got)
    labels = [b.label for b in at.button]
    assert {"Random user", "Most active", "Least active"} <= set(labels)
    assert len(at.get("plotly_chart")) == 2  # timeline and overlap


def test_changing_the_user_changes_the_lists():
    at = page("users", models="itemknn,markov", user="1")
    before = lists(at)
    at.session_state["user"] = "405"
    at.run()
    assert not at.exception
    after = lists(at)
    assert at.metric[0].value == "405" and after != before
    frame = at.dataframe[0].value
    reasons = frame["because"].str.startswith(("Because you watched", "Besides the list's shared"))
    assert reasons.all(), frame.loc[~reasons, ["model", "title", "because"]]
    facts = frame["counterfactual"].str.startswith(("Without ", "No set of up to 10"))
    assert facts.all(), frame.loc[~facts, ["model", "title", "counterfactual"]]
    assert any("Because you watched" in m.value or "Besides the list" in m.value for m in at.markdown)


def test_most_active_button_and_knobs():
    at = page("users", models="itemknn")
    next(b for b in at.button if b.label == "Most active").click().run()
    assert at.session_state["user"] == "405" and at.metric[0].value == "405"  # the most active user
    plain = lists(at)[0]
    at.slider(key="users-lam").set_value(0.3).run()
    diverse = lists(at)[0]
    assert not at.exception and diverse != plain and diverse[0] == plain[0]
    assert any("MMR λ 0.30" in c.value and "scores need not fall in rank order" in c.value for c in at.caption)


def test_what_if_compares_with_the_list_above():
    # MF-BPR and Bayesian MF rank a known user from their history (fold-in) as ItemKNN does, so the
    # "before" side is the list above for all three: no note that it is some other list.
    at = page("users", models="bpr,bpmf,itemknn", user="1")
    recent = at.multiselect(key="whatif-remove").options
    at.multiselect(key="whatif-remove").set_value(recent[:2]).run()
    assert not at.exception
    notes = [c.value for c in at.caption if c.value.startswith("Before: the unedited history folded in")]
    assert notes == []


def test_unknown_user_in_url_falls_back_with_a_warning():
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["user"] = "no-such-user"
    at.run()
    at.switch_page("views/users.py").run()
    assert not at.exception
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["user"] = "no-such-user"
    at.run()
    assert any("No test user" in w.value for w in at.sidebar.warning)


def test_embeddings_page_draws_the_map_and_offers_missing_projections():
    at = page("embeddings", models="gpt", user="1")
    assert at.selectbox(key="emb-model").value == "gpt"
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    at.radio(key="emb-kind").set_value("users").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1  # the user map is built with the model
    at.radio(key="emb-ucolour").set_value("occupation").run()
    assert not at.exception
    at.radio(key="emb-dims").set_value(3).run()
    assert not at.exception
    assert any("not computed yet" in i.value for i in at.info)  # only 2-D maps are built
    assert not at.get("plotly_chart")


def test_explanations_page_explains_attends_and_shows_feature_shap():
    at = page("explanations", models="gpt", user="1")
    # occlusion credits some of user 1's history positively for GPT's top item: a reason is named
    assert any(m.value.startswith("**Because you watched") for m in at.markdown), \
        [m.value for m in at.markdown][:5]
    assert at.selectbox(key="ex-method").value == "occlusion"   # GPT's default
    case = at.table[0].value.set_index("check")["result"]   # "This case, checked"
    assert case["method"] == "occlusion" and case["faithful (top 3)"] in ("yes", "no")
    assert not case.isin(["None", "True", "False", "nan", ""]).any(), case  # "—" and yes / no
    assert at.selectbox(key="ex-tf").value in ("gpt", "bert")
    assert len(at.get("plotly_chart")) == 4  # credit bars, Bayesian posterior, attention, feature waterfall
    at.selectbox(key="ex-method").set_value("shapley").run()
    assert not at.exception and len(at.get("plotly_chart")) == 5  # Shapley adds up: a waterfall too
    assert any("standard error" in c.value for c in at.caption)
    at.selectbox(key="ex-layer").set_value(0).run()
    at.selectbox(key="ex-head").set_value(1).run()
    assert not at.exception
    features = at.dataframe[-1].value
    assert set(features["feature"]) == {"age", "gender", "occupation", "genres", "year", "popularity"}


def test_bayesian_mf_shows_intervals_and_how_the_posterior_moves():
    at = page("users", models="bpmf,itemknn", user="1")
    lines = next(m.value for m in at.markdown if "90% interval" in m.value)
    assert lines.count("90% interval") == 10, lines
    assert len(at.get("plotly_chart")) == 3  # timeline, interval bars, overlap
    at = page("explanations", models="bpmf", user="1")
    caption = next(c.value for c in at.caption if "folds the user's ratings" in c.value)
    assert "all rated items:" in caption and "without" not in caption
    history = at.multiselect(key="ex-bpmf-out").options
    at.multiselect(key="ex-bpmf-out").set_value([history[0], history[1]]).run()
    assert not at.exception
    caption = next(c.value for c in at.caption if "folds the user's ratings" in c.value)
    assert "without 2 item(s):" in caption, caption


def test_explanations_of_exact_model():
    at = page("explanations", models="itemknn", user="1")
    assert any("The score is a sum over history items" in c.value for c in at.caption)


@pytest.mark.parametrize("model,user", [("gpt", "1"), ("markov", "1"), ("gpt", "381"), ("bpr", "381")])
def test_one_answer_on_every_page(model, user):
    """The Users page and the Explanations page read the same explanation object (stored with the model
    for user 1, computed live for user 381): the counterfactual of the model's first recommendation is
    word for word the same on both."""
    users = page("users", models=model, user=user)
    table = next(df.value for df in users.dataframe if "counterfactual" in df.value.columns)
    explained = page("explanations", models=model, user=user)
    shown = [m.value for m in explained.markdown
             if m.value.startswith(("Without ", "No set of", "Folded in from"))]
    assert shown == [table["counterfactual"].iloc[0]], (shown, table["counterfactual"].iloc[0])


def test_a_re_ranked_list_says_where_the_model_ranks_each_item():
    # MMR moves items: each counterfactual starts from the model's own rank and, where the list shows
    # the item elsewhere, says so first ("#4 in the list" never meets "drops from #36" unexplained).
    at = page("users", models="itemknn", user="1", **{"users-lam": "0.3"})
    table = next(df.value for df in at.dataframe if "counterfactual" in df.value.columns)
    for place, (title, sentence) in enumerate(zip(table["title"], table["counterfactual"]), 1):
        said = f"re-ranked to #{place} here" in sentence or f"drops from #{place} to" in sentence
        assert said, (place, title, sentence)
    assert table["counterfactual"].str.contains("in the model's own order, re-ranked").any()


def test_evaluation_page_compares_two_models():
    import json

    at = page("evaluation")
    board = at.dataframe[0].value
    assert {"Popularity", "ItemKNN", "Markov chain"} <= set(board.index)  # labels, as elsewhere
    assert not board.isin(["None", "nan", "NaN"]).any().any() and board["ndcg@10"].str.match(r"^0\.\d{4}$").all()
    # two tables at one K (one of two dozen columns scrolled sideways): accuracy, then the rest and cost
    beyond = at.dataframe[1].value
    assert "coverage@10" in beyond and "fit seconds" in beyond and "coverage@10" not in board, list(board)
    at.segmented_control(key="ev-k").set_value(20).run()
    assert "ndcg@20" in at.dataframe[0].value and "ndcg@10" not in at.dataframe[0].value
    at.segmented_control(key="ev-k").set_value(10).run()
    # the segment charts draw the chosen few models, not a dozen bars a group
    at.multiselect(key="ev-charted").set_value(["markov", "pop"]).run()
    segment = next(spec for c in at.get("plotly_chart") if "by user activity" in
                   (spec := json.loads(c.proto.spec))["layout"]["title"]["text"])
    assert {trace["name"] for trace in segment["data"]} == {"Markov chain", "Popularity"}
    at.multiselect(key="ev-charted").set_value([]).run()
    assert any(i.value.startswith("Choose models above") for i in at.info) and not at.exception
    assert not any("by user activity" in json.loads(c.proto.spec)["layout"]["title"]["text"]
                   for c in at.get("plotly_chart"))
    at.multiselect(key="ev-charted").set_value(["markov", "pop"]).run()
    at.selectbox(key="ev-a").set_value("markov").run()
    at.selectbox(key="ev-b").set_value("pop").run()
    assert not at.exception
    verdicts = [s.value for s in at.success] + [w.value for w in at.warning]
    assert any("Markov chain beats Popularity" in v for v in verdicts), verdicts
    # one family: the verdict is the matrix's pair, corrected for every pair the matrix shows
    matrix = next(spec for c in at.get("plotly_chart") if (spec := json.loads(c.proto.spec))["data"][0]["type"]
                  == "heatmap" and "row minus column" in spec["layout"]["title"]["text"])
    n = len(matrix["data"][0]["x"])
    assert n >= 3 and any(f"Holm-corrected over {n * (n - 1) // 2} pairs" in v for v in verdicts), (n, verdicts)
    # training curves: the validation score first, a line per model that records epochs
    assert at.radio(key="ev-curve").value == "valid_ndcg@10"
    curve = next(spec for c in at.get("plotly_chart") if "per epoch" in
                 (spec := json.loads(c.proto.spec))["layout"]["title"]["text"])
    assert {"GPT", "MF (BPR)"} <= {trace["name"] for trace in curve["data"]}
    assert any(b.proto.label == "Download this comparison (HTML)" for b in at.get("download_button"))
    # Popularity shows everyone the same items: the exposure check says so, and names no one else
    flags = [w.value for w in at.warning if "Everyone gets the same popular items" in w.value]
    assert len(flags) == 1 and "Popularity" in flags[0] and "Markov" not in flags[0]


def test_items_page_searches_text_and_finds_similar_items():
    at = page("items")
    titles = at.dataframe[0].value["title"].tolist()
    assert any(t.startswith("Star") for t in titles), titles
    assert any("Searches each item's title, genres and year" in c.value for c in at.caption)
    at.radio(key="items-within").set_value("Sci-Fi").run()   # "outer space" is closest to Sci-Fi
    genres = at.dataframe[0].value["genres"]
    assert genres.str.split("|").map(lambda g: "Sci-Fi" in g).all(), genres
    at.text_input(key="items-query").set_value("😀😀😀").run()
    assert any(w.value.startswith("No good match for '😀😀😀'") for w in at.warning)
    at.text_input(key="items-query").set_value("").run()
    assert any("empty" in e.value for e in at.error)
    at.text_input(key="items-query").set_value("animated film for children").run()
    assert len(at.dataframe) >= 2


def test_playground_lists_update_with_the_history():
    at = page("playground", models="itemknn,gpt")
    empty = lists(at)
    # ItemKNN scores every item 0 without a history: the page says the order is not the model's.
    assert any("prefers none of them" in c.value for c in at.caption)
    at.multiselect(key="pg-items").set_value([0, 49]).run()  # Toy Story, Star Wars
    picked = lists(at)
    assert not at.exception and picked != empty and len(picked) == 2
    assert not any("prefers none of them" in c.value for c in at.caption)
    assert not {"Toy Story", "Star Wars"} & set(picked[0])
    at.text_input(key="pg-text").set_value("mafia crime family").run()
    assert any("From the text" in c.value for c in at.caption)
    assert lists(at) != picked


@pytest.mark.parametrize("path", ["overview", "users", "embeddings", "explanations", "evaluation",
                                  "items", "item", "playground"])
def test_every_page_renders(path):
    at = page(path)
    assert at.title[0].value.lower() == path


def test_item_page_tells_who_rated_and_who_gets_it():
    at = page("item", item="50")   # Star Wars' id in ml-100k
    assert at.selectbox[0].value is not None and at.query_params["item"] == "50"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Item id"] == "50" and metrics["Popularity rank"] == "#1 of 1,682", metrics
    who = next(df.value for df in at.dataframe if "rating" in df.value.columns)
    assert len(who) == 200 and who["open"].str.startswith("/users?dataset=ml-100k&user=").all()
    gets = next(df.value for df in at.dataframe if "test users" in df.value.columns)
    assert set(gets["model"]) >= {"Popularity", "Markov chain"} and (gets["test users"] >= 0).all()
    # where it sits on each map: a star for the item, diamonds for its nearest items in that model
    import json
    maps = [spec for c in at.get("plotly_chart") if (spec := json.loads(c.proto.spec))["data"][0]["type"]
            == "scattergl"]
    assert maps, "no item map on the Item page"
    for spec in maps:
        marked = {trace["name"]: len(trace["text"]) for trace in spec["data"]}  # x, y are packed arrays
        assert marked["this item"] == 1 and 1 <= marked["nearest 10"] <= 10, (spec["layout"]["title"], marked)
    unknown = page("item", item="no-such-item")
    assert any("No item 'no-such-item'" in w.value for w in unknown.warning)


def test_titles_in_lists_link_to_their_item_page():
    at = page("users", models="markov", user="1")
    lines = next(m.value for m in at.markdown if m.value.startswith("1. ["))
    assert "(/item?dataset=ml-100k&item=" in lines, lines[:300]


def test_titles_are_escaped_where_html_is_rendered():
    from views.widgets import _plain

    shown = _plain("<script>alert(1)</script> *Star* [x](javascript:y) & Co")
    assert "<" not in shown and ">" not in shown and "&lt;script&gt;" in shown
    assert r"\*Star\*" in shown and r"\[x\]\(javascript:y\)" in shown and "&amp; Co" in shown


def test_evaluation_compares_models_on_a_cohort():
    """Relevance with ratings and a profile: only users whose held-out film they rated 4★+, aged 20–40."""
    at = page("evaluation")
    at.select_slider(key="ev-rated").set_value("4★").run()
    at.slider(key="ev-age").set_value((20, 40)).run()
    assert not at.exception
    note = next(c.value for c in at.caption if c.value.startswith("The tables: all test users. Below: the "))
    assert "held-out item rated 4★ or more; aged 20–40" in note, note
    n = int(note.split("Below: the ")[1].split(" ")[0].replace(",", ""))
    assert 0 < n < 943
    verdicts = [s.value for s in at.success] + [w.value for w in at.warning]
    assert any(f"{n:,} users" in v for v in verdicts), (n, verdicts)  # the tests ran on the cohort
    at.selectbox(key="ev-taste").set_value("Horror").run()
    note = next(c.value for c in at.caption if c.value.startswith("The tables: all test users. Below: the "))
    assert "at least 20% Horror in their history" in note and not at.exception, note
    at.selectbox(key="ev-taste").set_value("any").run()
    at.select_slider(key="ev-rated").set_value("5★").run()
    at.multiselect(key="ev-occupation").set_value(["doctor"]).run()
    at.multiselect(key="ev-gender").set_value(["F"]).run()
    # no female doctor of 20–40 rated her held-out film 5★: the page says so instead of comparing nobody
    assert not at.exception and any(w.value.startswith("No test user is in this group") for w in at.warning)


def test_evaluation_per_user_comparison_links_to_users():
    at = page("evaluation")
    at.selectbox(key="ev-a").set_value("markov").run()
    at.selectbox(key="ev-b").set_value("itemknn").run()
    assert any("Holm's correction" in c.value for c in at.caption)
    worst = at.dataframe[-1].value
    # The link names the dataset: without it the Users page would open the default dataset, where the
    # same numeric id is another person.
    assert len(worst) == 12 and worst["open"].str.startswith("/users?dataset=ml-100k&user=").all()
    assert worst["open"].str.endswith("&models=markov%2Citemknn").all()
    assert (worst["difference"].abs().diff().dropna() <= 1e-12).all()  # largest first


def _overlap(at: AppTest) -> tuple[str, list[list[float]]]:
    """The overlap heat-map's title and matrix, read from the chart the page sent."""
    import base64
    import json

    import numpy as np

    spec = json.loads(at.get("plotly_chart")[-1].proto.spec)
    z = spec["data"][0]["z"]
    if isinstance(z, dict):                 # plotly sends numpy arrays as base64 typed arrays
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape([int(n) for n in str(z.get("shape", "-1")).split(",")])
    return spec["layout"]["title"]["text"], np.asarray(z, dtype=float).tolist()


def test_users_overlap_can_be_rank_biased():
    from recsys.compare import jaccard, rbo

    at = page("users", models="itemknn,markov", user="1")
    table = next(df.value for df in at.dataframe if "model" in df.value.columns)
    a, b = (table.loc[table["model"] == m, "item"].to_numpy() for m in table["model"].unique())
    title, z = _overlap(at)
    assert title == "List overlap (Jaccard)" and z[0][1] == pytest.approx(jaccard(a, b))
    at.radio(key="users-overlap").set_value("RBO").run()
    title, z = _overlap(at)
    assert title == "List overlap (RBO)"
    assert z[0][0] == pytest.approx(1.0) and z[0][1] == pytest.approx(rbo(a, b)) == pytest.approx(z[1][0])


def test_what_if_editor_changes_the_lists_and_checks_explanations():
    at = page("users", models="itemknn,markov", user="1")
    assert at.multiselect(key="whatif-remove").options  # the history, most recent first
    recent = at.multiselect(key="whatif-remove")
    at.multiselect(key="whatif-remove").set_value([recent.options[0], recent.options[1]]).run()
    assert not at.exception
    moves = [df.value for df in at.dataframe if "moved" in df.value.columns]
    assert len(moves) == 2 and any(m["moved"].ne("").any() for m in moves)
    for m in moves:  # ranks as text: a new entry is "new", one that fell out "out", never "None"
        assert m[["before", "after"]].map(lambda r: r == "new" or r == "out" or r.startswith("#")).all().all()
        assert (m["before"] == "new").sum() == (m["after"] == "out").sum()  # k in, k out
    at.button(key="whatif-check").click().run()
    check = at.dataframe[-1].value
    assert not at.exception and list(check["model"].unique()) == ["ItemKNN", "Markov chain"]
    assert len(check) == 20  # one row per recommended item
    # exact terms (ItemKNN) and occlusion (Markov) credit most the item whose removal costs most
    unfaithful = check.loc[check["faithful (top 3)"] != "yes", ["model", "recommendation"]]
    assert unfaithful.empty, unfaithful
    found = check["re-scored rank"] != ""
    assert (check.loc[found, "counterfactual holds"] == "yes").all(), check.loc[found]
    assert not check.isin(["None", "True", "False", "nan"]).any().any(), check  # read as a person would


def test_items_filters_and_index_check():
    at = page("items")
    at.selectbox(key="items-genre").set_value("Comedy").run()
    assert not at.exception
    similar = [df.value for df in at.dataframe if list(df.value.columns) == ["title", "similarity"]]
    assert similar and all(len(t) == 10 for t in similar)
    at.button(key="items-ann").click().run()
    check = at.dataframe[-1].value
    assert not at.exception and check["overlap@10, HNSW vs exact"].between(0.5, 1.0).all()


def test_what_if_reordering_moves_sequence_model_lists():
    at = page("users", models="markov", user="1")
    oldest = at.multiselect(key="whatif-move").options[-1]  # options are most recent first
    at.multiselect(key="whatif-move").set_value([oldest]).run()
    assert not at.exception
    moves = [df.value for df in at.dataframe if "moved" in df.value.columns]
    assert len(moves) == 1 and moves[0]["moved"].ne("").any()  # Markov reads the last items


def test_a_shared_url_restores_the_knobs_and_the_what_if_edits():
    """The issue's lost state: k, MMR λ, the popularity penalty and the what-if edits live in the URL
    (widgets bound to query parameters), so a link opens the same lists."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    shared = {"models": "itemknn", "user": "1", "users-k": "5", "users-lam": "0.5", "users-pop": "0.2",
              "whatif-remove": ["Copycat (1995)"]}
    for key, value in shared.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/users.py").run()
    assert not at.exception
    assert at.number_input(key="users-k").value == 5 and len(lists(at)[0]) == 5
    assert at.slider(key="users-lam").value == 0.5 and at.slider(key="users-pop").value == 0.2
    removed = at.multiselect(key="whatif-remove")
    assert [removed.format_func(i) for i in removed.value] == ["Copycat (1995)"]
    assert any("moved" in df.value.columns for df in at.dataframe)  # the what-if table is open


def test_a_larger_set_is_named_title_by_title():
    """Where no set of 10 moves the item, the sentence says how many removals do; the page lists them."""
    at = page("explanations", models="bpmf", user="1")
    for item in at.selectbox(key="ex-item").options:
        at.selectbox(key="ex-item").set_value(item).run()
        said = [m.value for m in at.markdown if "history items that lower it most" in m.value]
        if not said:
            continue
        count = int(said[0].split("Removing the ")[1].split(" ")[0].replace(",", ""))
        (box,) = [e for e in at.expander if "history items whose removal" in e.label]
        assert box.label.startswith(f"The {count} history items"), (said[0], box.label)
        assert len(box.markdown[0].value.split(" · ")) == count, box.markdown[0].value
        return
    pytest.fail("user 1: no Bayesian MF item needs more than 10 removals")


@pytest.mark.parametrize("user, outcome", [("2", "Without "), ("1", "No set of up to 10 history items can")])
def test_an_open_bayesian_mf_case_is_settled_on_request(user, outcome):
    """Where the search neither found a set nor proved that none exists, the Explanations page offers the
    branch and bound; asked, it answers with a re-scored set ("Without …, X drops from #6 to #13") or a
    proof, for each such item of the list until one gives the expected answer (the failing cases named);
    the Users page then shows the settled answer."""
    at = page("explanations", models="bpmf", user=user)
    seen = []
    for item in at.selectbox(key="ex-item").options:
        at.selectbox(key="ex-item").set_value(item).run()
        if not [b for b in at.button if b.key == "ex-decide"]:
            continue
        at.button(key="ex-decide").click().run()
        assert not at.exception, [e.value for e in at.exception]
        answer = next(m.value for m in at.markdown if m.value.startswith(("**Settled:**", "Still open")))
        seen.append((item, answer))
        if answer.startswith("**Settled:** " + outcome):
            # The method's caption says so in the same run, as the check beside it does.
            assert any("settled by branch and bound" in c.value for c in at.caption), \
                [c.value for c in at.caption]
            case = at.table[0].value.set_index("check")["result"]   # the check beside it agrees
            if outcome == "Without ":
                assert int(answer.rsplit("#", 1)[1].rstrip(".").replace(",", "")) > 10, answer
                assert case["counterfactual holds"] == "yes", case
            else:
                assert case["none can exist"] == "yes", case
                assert "branch and bound" in answer, answer
            # The Users page (the same session) now gives the settled answer too, not the search's.
            at.switch_page("views/users.py").run()
            table = next(df.value for df in at.dataframe if "counterfactual" in df.value.columns)
            assert answer.removeprefix("**Settled:** ") in table["counterfactual"].tolist(), \
                (answer, table["counterfactual"].tolist())
            return
    pytest.fail(f"user {user}: no open case settled as {outcome!r}: {seen}")
