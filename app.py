"""RecLens: the Streamlit entry point. A router over views/ (the pages) plus the shared sidebar.

Run with ``make run`` (or ``streamlit run app.py`` inside the venv).
"""
from pathlib import Path

import streamlit as st

from views import figures, state

ROOT = Path(__file__).parent


st.set_page_config(page_title="RecLens", page_icon=str(ROOT / "assets" / "icon.png"), layout="wide")
state.inject_css()
figures.apply_plot_theme()

pages = {
    "Explore": [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/users.py", title="Users", icon=":material/person:"),
        st.Page("views/items.py", title="Items", icon=":material/movie:"),
        st.Page("views/item.py", title="Item", icon=":material/info:", url_path="item"),
        st.Page("views/playground.py", title="Playground", icon=":material/science:"),
    ],
    "Understand": [
        st.Page("views/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page("views/explanations.py", title="Explanations", icon=":material/lightbulb:"),
        st.Page("views/evaluation.py", title="Evaluation", icon=":material/leaderboard:"),
    ],
}
state.sidebar()
nav = st.navigation(pages)
nav.run()
