"""The exported comparison: one self-contained HTML file with the page's tables, charts and words."""
import re

import pandas as pd
import plotly.graph_objects as go

from views.report import Report


def test_report_is_one_self_contained_file():
    report = Report("RecLens: ml-100k <evaluation>")
    report.text("GPT beats MF (BPR) on ndcg@10 by 0.0265 <b>")
    report.table(pd.DataFrame({"ndcg@10": [0.10213, None]}, index=["GPT", "Popularity"]))
    for name in ("first", "second"):
        report.figure(go.Figure(go.Bar(x=[1, 2], y=[3, 4], name=name)))
    page = report.html()
    assert page.startswith("<!DOCTYPE html>") and page.count("<h1>") == 1
    scripts = re.findall(r"<script[^>]*>.*?</script>", page, flags=re.S)
    words = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert "&lt;evaluation&gt;" in words and "&lt;b&gt;" in words         # text is escaped, never markup
    assert "0.1021" in words and "None" not in words and "nan" not in words  # 4 places, NaN blank
    # plotly.js inlined once (it opens offline: no script is loaded from elsewhere), both charts drawn
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert sum(len(s) > 1_000_000 for s in scripts) == 1 and page.count("Plotly.newPlot") == 2
