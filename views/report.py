"""A page's comparison as one self-contained HTML file: the charts (interactive, plotly.js inlined once, no
CDN) and tables it drew, in order, with the group of users and the verdicts in words.

Pages record into a ``Report`` as they draw (``report.chart(st, fig)`` draws and keeps the figure), so
the file shows exactly what the analyst saw. No Streamlit calls here beyond the ``where`` passed in.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone

import pandas as pd
import plotly.graph_objects as go

_STYLE = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#1f1d2b}
h1{color:#5b4bdb}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right}th{background:#f4f2fd}p.note{color:#555}"""


class Report:
    def __init__(self, title: str):
        self.title = title
        self.parts: list[tuple[str, object]] = []

    def heading(self, text: str) -> None:
        self.parts.append(("h2", text))

    def text(self, text: str) -> None:
        self.parts.append(("p", text))

    def table(self, frame: pd.DataFrame) -> None:
        self.parts.append(("table", frame))

    def figure(self, fig: go.Figure) -> None:
        self.parts.append(("figure", fig))

    def chart(self, where, fig: go.Figure, **options) -> None:
        """Draw ``fig`` with ``where`` (st, a column) and keep it for the file."""
        where.plotly_chart(fig, **options)
        self.figure(fig)

    def html(self) -> str:
        out, inlined = [], False
        for kind, part in self.parts:
            if kind == "figure":
                # plotly.js once, inside the file: it opens offline, years later
                out.append(part.to_html(full_html=False, include_plotlyjs=not inlined))
                inlined = True
            elif kind == "table":
                out.append(part.to_html(float_format=lambda v: f"{v:.4f}", na_rep="", escape=True))
            else:
                out.append(f"<{kind}{' class=note' if kind == 'p' else ''}>{html.escape(str(part))}</{kind}>")
        made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
                f"<p class=note>Exported from RecLens on {made}.</p>{''.join(out)}</body></html>")
