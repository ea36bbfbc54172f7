"""Explanations: why one recommendation (history credit, its counterfactual and check), how sure Bayesian
MF is, the transformers' attention, and the feature model's SHAP values."""
import streamlit as st

from views import panels, state

name, ds, built, ctx = state.open_user_page("Explanations")
if not built:
    state.offer_build(name, list(state.PREFERRED), "explanations")
    st.stop()
titles = ds.items["title"]
item, recs = panels.why_this_item(name, ctx, built, titles)
panels.posterior(name, ctx, item, titles)
panels.attention(name, ctx, built, titles)
panels.features(name, ctx.index, recs, titles)
