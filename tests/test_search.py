"""Free-text search: real queries find what they name, meaningless ones say "no good match", and the
genres closest to a query can be searched within. Each query is its own case."""
import pytest

from recsys.errors import ParameterError
from recsys.search import GENRE_FLOOR, MATCH_FLOOR, search_items


@pytest.fixture(scope="module")
def content(ml100k):
    from recsys.models import get_model

    return get_model("content").fit(ml100k)


def titles(ml100k, result):
    return ml100k.items["title"].to_numpy()[result.items].tolist()


@pytest.mark.parametrize("query,title", [("toy story", "Toy Story"), ("star wars", "Star Wars"),
                                         ("animated film for children", "Toy Story"),
                                         ("a love story", None), ("outer space", "2001: A Space Odyssey")])
def test_real_queries_match(content, ml100k, query, title):
    result = search_items(content, ml100k, query, 10)
    assert result.matched and result.similarity[0] >= MATCH_FLOOR, (query, result.similarity[:3])
    assert list(result.similarity) == sorted(result.similarity, reverse=True)
    if title:
        assert title in titles(ml100k, result), (query, titles(ml100k, result))


@pytest.mark.parametrize("query", ["😀😀😀", "asdkjh qwe", "zzzz"])
def test_meaningless_queries_say_no_good_match(content, ml100k, query):
    result = search_items(content, ml100k, query, 10)
    assert not result.matched, (query, result.similarity[:3], titles(ml100k, result)[:3])
    assert "No good match" in result.no_match_message() and "title, genres and year" in result.no_match_message()


def test_a_query_about_space_reaches_sci_fi(content, ml100k):
    result = search_items(content, ml100k, "outer space", 10)
    assert "Sci-Fi" in [g for g, _ in result.genres] and all(s >= GENRE_FLOOR for _, s in result.genres)
    within = search_items(content, ml100k, "outer space", 10, genre="Sci-Fi")
    genres = ml100k.items["genres"].to_numpy()[within.items]
    assert len(within.items) == 10 and all("Sci-Fi" in g.split("|") for g in genres), genres
    assert within.genre == "Sci-Fi"


def test_bad_search_input(content, ml100k):
    with pytest.raises(ParameterError, match="empty"):
        search_items(content, ml100k, "   ", 10)
    with pytest.raises(ParameterError, match="unknown genre"):
        search_items(content, ml100k, "space", 10, genre="Space Opera")
    with pytest.raises(ParameterError, match="k must be"):
        search_items(content, ml100k, "space", 0)
    assert len(search_items(content, ml100k, "space", 10**6).items) == ml100k.n_items  # a huge k: all
