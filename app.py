"""RecLens: the Streamlit entry point. A router over pages/ plus the shared sidebar.

Run with ``make run`` (or ``streamlit run app.py`` inside the venv).
"""
from pathlib import Path

import streamlit as st

from pages import state

ROOT = Path(__file__).parent

st.set_page_config(page_title="RecLens", page_icon=str(ROOT / "assets" / "icon.png"), layout="wide")
state.inject_css()

pages = {
    "Explore": [st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:",
                        default=True)],
}
nav = st.navigation(pages)
state.sidebar()
nav.run()
