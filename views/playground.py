"""Playground: compose a user from picked items or free text; every chosen model's list updates live."""
import numpy as np
import streamlit as st

from views import state, widgets
from recsys.errors import RecsysError
from recsys.rerank import reorders

name, ds, built = state.open_page("Playground")

titles = widgets.item_labels(name)
st.caption("Histories are ordered as picked (the sequence models and the models that weigh the latest "
           "items most read the order); "
           "models with per-user vectors fold the history in.")
picked = widgets.item_picker(st, name, "Items this user watched, oldest first", np.arange(ds.n_items),
                             "pg-items", placeholder="Type a title…")
text = st.text_input("…or describe their taste in words", key="pg-text",
                     placeholder="e.g. dark psychological thrillers from the nineties")
history = list(picked)
if text.strip():
    if "content" not in built:
        state.offer_build(name, ["content"], "free-text taste", key="pg-build-content")
    else:
        try:
            result = state.text_search(name, text, 5 + len(history))
            if result.matched:
                matched = [int(i) for i in result.items if i not in history][:5]
                history += matched
                st.caption("From the text: " + ", ".join(titles[matched]))
            else:
                st.warning(result.no_match_message(), icon=":material/search_off:")
        except RecsysError as e:
            state.show_error(e)

models = state.chosen_models(name, built, "the Playground")
if not history:
    st.info("Pick a few items or describe a taste; each model's list appears here. With an empty "
            "history every model falls back to what it recommends to anyone.")
k, lam, penalty = widgets.rerank_knobs("pg", name)
frames = {}
columns = st.columns(len(models))
for column, model in zip(columns, models):
    with column:
        st.markdown(f"#### {state.model_label(model)}")
        try:
            frame = widgets.recommendation_frame(name, model, tuple(history), None, k, lam, penalty)
            note, frames[model] = widgets.explained_frame(name, model, frame, tuple(history), None,
                                                          reranked=reorders(lam, penalty))
        except RecsysError as e:
            state.show_error(e)
            continue
        if note:
            st.info(note, icon=":material/info:")
        widgets.show_list(frames[model], name)
with st.expander("All lists as a table"):
    st.dataframe(widgets.lists_table(frames), hide_index=True, column_config={"item": None})
