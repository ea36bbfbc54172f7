"""The charts' colours: categories that can be told apart, one colour per model on every page."""
import numpy as np
import pandas as pd

from recsys.compare import segment_errors, segment_means
from recsys.models.registry import BUILTIN
from views import figures


def test_category_palette_has_enough_distinct_readable_colours():
    assert len(set(figures.CATEGORIES)) == len(figures.CATEGORIES) >= 20
    for colour in figures.CATEGORIES:
        assert figures._readable_on_white(colour), colour
    assert not figures._readable_on_white("#fdf490") and figures._readable_on_white("#000000")
    markers = {colour for _, _, colour in figures.HIGHLIGHTS}
    assert not markers & set(figures.CATEGORIES)


def test_every_model_has_its_own_colour_by_name_and_by_label():
    colours = [figures.model_colour(name) for name in BUILTIN]
    assert len(set(colours)) == len(BUILTIN)
    for name, entry in BUILTIN.items():
        assert figures.model_colour(entry.label) == figures.model_colour(name), name
    upload = figures.model_colour("my-upload")
    assert upload == figures.model_colour("my-upload") and upload not in colours


def test_charts_draw_each_model_in_its_colour():
    labels = [BUILTIN[m].label for m in ("gpt", "bert", "userknn", "bpr")]
    rng = np.random.default_rng(0)
    values = {label: rng.random(8) for label in labels}
    segment = pd.Categorical(["a", "b"] * 4)
    bars = figures.segment_bars(segment_means(values, segment), "ndcg@10", "by test",
                                segment_errors(values, segment))
    assert all(trace.error_y.array is not None and len(trace.error_y.array) == 2 for trace in bars.data)
    for fig in (bars,
                figures.metric_bars(pd.DataFrame({"model": labels, "ndcg@10": rng.random(4)}), "ndcg@10")):
        drawn = {trace.name: trace.marker.color for trace in fig.data}
        assert drawn == {label: figures.model_colour(label) for label in labels}, drawn


def test_segment_intervals_never_reach_below_zero():
    """A segment of a few users has a wide normal interval; a per-user metric below 0 is impossible."""
    values = {"GPT": np.array([0.0, 0.0, 0.0, 1.0, 0.2, 0.3]),
              "MF (BPR)": np.array([0.0, 0.0, 0.5, 0.4, 0.6, 0.5])}
    segment = pd.Categorical(["few", "few", "few", "more", "more", "more"])
    bars = figures.segment_bars(segment_means(values, segment), "ndcg@10", "by test",
                                segment_errors(values, segment))
    for trace in bars.data:
        for segment_name, mean, below in zip(trace.x, trace.y, trace.error_y.arrayminus):
            assert mean - below >= -1e-12, (trace.name, segment_name, mean, below)
    assert any(below < above for trace in bars.data                       # the upper side stays whole
               for below, above in zip(trace.error_y.arrayminus, trace.error_y.array))


def test_nineteen_genres_get_nineteen_colours():
    genres = [f"genre {i}" for i in range(19)]
    frame = pd.DataFrame({"x": np.arange(19.0), "y": np.arange(19.0), "genre": genres, "size": 1.0,
                          "title": genres})
    fig = figures.embedding_map(frame, 2, "genre", "map", "title", {}, 9)
    colours = [trace.marker.color for trace in fig.data]
    assert len(colours) == 19 and len(set(colours)) == 19


def test_a_colour_scale_moves_the_roles_legend_below_the_map():
    # A numeric colouring draws a colour bar on the right, where the legend of highlighted roles was
    # drawn over its title (Amazon Beauty's map coloured by log popularity).
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.5], "size": 1.0, "title": list("abc"),
                          "genre": ["g", "h", "g"], "log popularity": [0.5, 1.0, 2.0],
                          "role": ["history", "other items", "other items"]})
    for colour, below in (("log popularity", True), ("genre", False)):
        fig = figures.highlight_roles(figures.embedding_map(frame, 2, colour, "map", "title", {}, 9),
                                      frame, 2)
        assert (fig.layout.legend.orientation == "h") is below, colour
        assert (fig.layout.legend.y is not None and fig.layout.legend.y < 0) is below, colour


def test_pairs_heatmap_colours_only_significant_cells():
    from recsys.compare import compare_all, pairs_matrix

    base = np.random.default_rng(1).random(300)
    wobble = np.where(np.arange(300) % 2, 0.01, -0.01)   # b equals a on average
    tests = compare_all({"a": base + 0.2, "b": base + 0.2 + wobble, "c": base}, resamples=1000)
    fig = figures.pairs_heatmap(pairs_matrix(tests), "ndcg@10")
    z = np.array(fig.data[0].z, dtype=float)
    text = np.array(fig.data[0].text)
    assert np.isnan(np.diag(z)).all() and text[0, 0] == ""
    assert z[0, 2] > 0 and z[2, 0] < 0            # a beats c, shown from both sides
    assert np.isnan(z[0, 1]) and text[0, 1] != ""  # a and b: no colour, the difference still written
