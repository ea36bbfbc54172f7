"""RecLens pages. Each page module is a short script run by st.navigation; ``state`` holds what pages
share (sidebar widgets, session keys, cached loaders)."""
