"""Explanations in words a person can check: titles in natural order, ratings shown beside the reasons,
and a list whose items all lean on the same history items said once, not ten times."""
from __future__ import annotations

import re
from collections import Counter
from typing import Mapping, Sequence

import numpy as np

from recsys.explain.history import FOLDED_IN, HistoryExplanation

# MovieLens moves a leading article to the end: "Prophecy II, The (1998)", "Cité des enfants perdus, La".
_ARTICLE = re.compile(r"^(?P<name>.+?), (?P<article>The|A|An|L'|La|Le|Les|Il|Das|Der|Die|El|Los|Las|"
                      r"Lo|Un|Une|Det|Den)(?P<rest>(?: \(.*\))?)$")


def natural_title(title: str) -> str:
    """'Prophecy II, The (1998)' → 'The Prophecy II (1998)'; other titles unchanged."""
    match = _ARTICLE.match(str(title))
    if not match:
        return str(title)
    article = match["article"]
    return f"{article}{'' if article.endswith(chr(39)) else ' '}{match['name']}{match['rest']}"


def natural_titles(titles) -> list:
    """Each title in natural order; a missing one (not text) stays as it is, for tables to show blank."""
    return [natural_title(t) if isinstance(t, str) else t for t in titles]


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _name(item: int, titles, ratings: Mapping[int, float] | None) -> str:
    name = natural_title(titles[int(item)])
    if ratings is not None and int(item) in ratings:
        return f"{name} (rated {ratings[int(item)]:g}★)"
    return name


def because_you_watched(explanation: HistoryExplanation, titles, n: int = 3,
                        ratings: Mapping[int, float] | None = None, skip: Sequence[int] = ()) -> str:
    """"Because you watched A (rated 5★), B and C": the ``n`` history items with the largest positive
    credit (``skip`` leaves some positions out). The rating is shown, never implied: the model credits a
    film rated 1★ as readily as one rated 5★, so the line says "watched", not "liked"."""
    if explanation.method == "none":
        return f"Not from your history: {explanation.settings['reason']}."
    titles = np.asarray(titles, dtype=object)
    top = [p for p in explanation.top(n + len(skip)) if p not in set(skip)][:n]
    if not len(top):
        return ("No item in your history raises this score: the model recommends it on its own "
                "(its score with an empty history is as high).")
    return "Because you watched " + _listed([_name(explanation.history[p], titles, ratings) for p in top])


def list_reasons(explanations: Sequence[HistoryExplanation], titles, n: int = 3,
                 ratings: Mapping[int, float] | None = None, shared: float = 0.7
                 ) -> tuple[str | None, list[str]]:
    """One reason per item, and a note for the whole list when most of its items lean on the same
    history items (in the top ``n`` of at least ``shared`` of them): then the note names those items
    once and each item's line says what else raises it, so the lines differ where the model does."""
    titles = np.asarray(titles, dtype=object)
    tops = [list(e.top(n)) for e in explanations]
    counts = Counter(p for top in tops for p in top)
    common = [p for p, c in counts.items() if len(tops) >= 4 and c >= shared * len(tops)]
    if not common:
        return None, [because_you_watched(e, titles, n, ratings) for e in explanations]
    history = explanations[0].history
    total = sum(e.values for e in explanations)
    common.sort(key=lambda p: -total[p])                    # the most credited across the list first
    note = (f"This list follows your recent history as a whole: "
            f"{_listed([_name(history[p], titles, ratings) for p in common])} "
            f"{'is' if len(common) == 1 else 'are'} among the top reasons for "
            f"{min(counts[p] for p in common)} or more of its {len(tops)} items.")
    lines = []
    for e in explanations:
        rest = [p for p in e.top(n + len(common)) if p not in common][:n]
        if rest:
            lines.append("Besides the list's shared reasons, because you watched "
                         + _listed([_name(e.history[p], titles, ratings) for p in rest]))
        elif len(e.top(1)):
            lines.append("Only the list's shared reasons raise this one.")
        else:
            lines.append(because_you_watched(e, titles, n, ratings))
    return note, lines


def counterfactual_sentence(explanation: HistoryExplanation, titles, shown_at: int | None = None) -> str:
    """"Without A and B, Wag the Dog drops from #1 to #37", or why there is no such set.

    The ranks are the model's. Where the list shows the item elsewhere the sentence says so first
    and starts from the model's rank, so that "#4 in the list" and "drops from #36" never meet
    unexplained: a model that ranks a known user by a learned vector (``per_user_parameters``) is
    explained through the folded-in history, and a re-ranked list (MMR, a popularity penalty) places
    items at ``shown_at`` rather than at the model's rank."""
    titles = np.asarray(titles, dtype=object)
    fact, item = explanation.counterfactual, natural_title(titles[explanation.item])
    if explanation.method == "none":
        return f"No counterfactual: {explanation.settings['reason']}."
    if fact is None:
        return "No counterfactual was searched for."
    if explanation.settings.get("path") == FOLDED_IN:
        prefix = f"Folded in from the history, {item} ranks #{fact.rank_before}; "
    elif shown_at is not None and shown_at != fact.rank_before:
        prefix = f"{item} is #{fact.rank_before} in the model's own order, re-ranked to #{shown_at} here; "
    else:
        prefix = ""
    lead, subject = (prefix + "no", "it") if prefix else ("No", item)
    if not fact.found:
        moved = (f"it stayed at #{fact.rank_before}" if fact.rank_after <= fact.rank_before else
                 f"the furthest it sank was #{fact.rank_after:,}")
        # How firmly it is held, where a larger set was found: "removing the 23 … takes it to #12".
        firm = (f" Removing the {len(fact.beyond)} history items that lower it most one at a time takes it "
                f"to #{fact.rank_beyond:,}." if len(fact.beyond) else "")
        if fact.proved_none and explanation.settings.get("settled"):
            return (f"{lead} set of up to {fact.max_removals} history items can take {subject} out of the "
                    f"top {fact.cutoff}: a branch and bound over every such set rules each one out.{firm}")
        if fact.proved_none:
            return (f"{lead} set of up to {fact.max_removals} history items can take {subject} out of the "
                    f"top {fact.cutoff}: a bound on how far any {fact.max_removals} removals can move the "
                    f"scores rules it out ({moved} in the search).{firm}")
        if prefix and fact.cutoff == fact.rank_before:  # below the top already: the search tried to sink it
            return (prefix + f"no set of up to {fact.max_removals} history items found that ranks it "
                    f"lower.{firm}")
        return (f"{lead} set of up to {fact.max_removals} history items found whose removal takes {subject} "
                f"out of the top {fact.cutoff} ({moved}).{firm}")
    names = [natural_title(titles[int(explanation.history[p])]) for p in fact.removed]
    if prefix:
        return prefix + f"without {_listed(names)} it drops to #{fact.rank_after:,}."
    return f"Without {_listed(names)}, {item} drops from #{fact.rank_before} to #{fact.rank_after:,}."
