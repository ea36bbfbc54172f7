"""RecLens pages. Each page module is a short script run by st.navigation; ``state`` holds what pages
share (sidebar widgets, session keys, cached loaders) and ``widgets`` the shared drawing helpers.

The folder is named views/, not pages/: Streamlit treats a pages/ folder beside the entrypoint as a
legacy (v1) multipage app, so a deep link such as /users?user=1 ran the page script without app.py —
no sidebar, no shared state.
"""
