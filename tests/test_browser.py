"""One browser test: a real server on a free port, every page opened by its URL in headless Chromium.

Screenshots go to $RECLENS_SCREENSHOTS (``make screenshots`` points it at assets/screenshots/ and the
models `make build` trained); otherwise to the test's temporary folder, with the session's small models
(conftest.app_store).
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from bench.common import free_port, start_app, wait_for_app

CHROMIUM = "/usr/bin/chromium"
PAGES = ["overview", "users", "items", "item", "playground", "embeddings", "explanations", "evaluation"]


@pytest.fixture(scope="module")
def server(request, text_cache):
    # The models `make build` trained (make screenshots), or the session's small ones.
    data = os.environ.get("RECLENS_BROWSER_DATA") or str(request.getfixturevalue("app_store"))
    port = free_port()
    env = {**os.environ, "RECLENS_DATA": data, "RECLENS_CACHE": str(text_cache)}
    if os.environ.get("RECLENS_BROWSER_DATA"):
        env.pop("RECLENS_CACHE")
    proc = start_app(port, env=env, stdout=subprocess.PIPE)
    try:
        wait_for_app(port, proc)
    except RuntimeError as e:
        pytest.fail(str(e))
    url = f"http://127.0.0.1:{port}"
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def settle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the script run that draws the page has finished (Streamlit marks it on stApp)."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout_ms)
    page.wait_for_timeout(1000)  # charts draw after the run ends


def test_every_page_opens_without_an_exception(server, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    out = Path(os.environ.get("RECLENS_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for name in PAGES:
            path = "" if name == "overview" else name  # the default page lives at the root
            page.goto(f"{server}/{path}?user=1")
            page.wait_for_selector(f"h1:has-text('{name.capitalize()}')", timeout=90_000)
            settle(page)
            # The main area scrolls inside its own container: grow the window to show all of it.
            height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
            page.set_viewport_size({"width": 1400, "height": min(max(1000, height + 40), 5000)})
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out / f"{name}.png"))
            page.set_viewport_size({"width": 1400, "height": 1000})
            assert page.locator("[data-testid=stException]").count() == 0, name
            assert "Page not found" not in page.inner_text("body"), name
            assert page.locator("[data-testid=stSidebar] input").count() >= 2, name  # shared sidebar
            text = page.inner_text("[data-testid=stMain]")
            assert "Traceback" not in text, name
        browser.close()
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{n}.png" for n in PAGES)


def _check_screen(page, step: str) -> None:
    """What the walk-through fails on: an exception box, or "None" / "nan" shown as a value."""
    assert page.locator("[data-testid=stException]").count() == 0, step
    words = re.findall(r"[A-Za-z]+", page.inner_text("[data-testid=stMain]"))
    assert "None" not in words and "nan" not in words and "NaN" not in words, step


def test_analyst_walk_through(server, tmp_path):
    """The issue's demo, in Chromium: pick users, what-if, compare models, search, open an item, share a
    URL, export the comparison."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        # pick users
        page.goto(f"{server}/users?user=1&models=markov,itemknn")
        settle(page)
        page.get_by_role("button", name="Most active").click()
        settle(page)
        assert "user=405" in page.url, page.url  # ml-100k's most active test user
        _check_screen(page, "users: most active")
        # what-if: remove the most recent history item; the URL keeps the edit
        picker = page.locator("[data-testid=stMultiSelect]").filter(has_text="Remove from the history")
        picker.scroll_into_view_if_needed()
        picker.locator("input").click()
        page.keyboard.press("Enter")
        settle(page)
        assert "whatif-remove=" in page.url, page.url
        _check_screen(page, "users: what-if")
        # a shared URL opens the same state
        shared = page.url
        other = browser.new_page(viewport={"width": 1400, "height": 1100})
        other.goto(shared)
        settle(other)
        assert "What if" in other.inner_text("[data-testid=stMain]") and "whatif-remove=" in other.url
        _check_screen(other, "shared URL")
        other.close()
        # compare: the verdict agrees with its own numbers
        page.goto(f"{server}/evaluation")
        settle(page)
        verdicts = [t for t in page.locator("[data-testid=stAlert]").all_inner_texts()
                    if "beats" in t or "cannot be told apart" in t]
        assert verdicts, "no verdict on the Evaluation page"
        for verdict in verdicts:
            corrected = re.search(r"Holm-corrected over \d+ pairs: p ([<=]) ([0-9.e-]+)", verdict)
            assert corrected, verdict
            p_value = float(corrected.group(2))
            significant = corrected.group(1) == "<" or p_value < 0.05
            assert ("beats" in verdict) == significant, verdict
        _check_screen(page, "evaluation")
        # export: one self-contained HTML file
        with page.expect_download() as download:
            page.get_by_role("button", name="Download this comparison (HTML)").click()
        exported = Path(download.value.path()).read_text()
        assert exported.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in exported
        assert not re.search(r"<script[^>]*\bsrc=", exported)
        # search: a real query finds items, a meaningless one says so
        page.goto(f"{server}/items?items-query=%F0%9F%98%80%F0%9F%98%80%F0%9F%98%80")
        settle(page)
        assert "No good match" in page.inner_text("[data-testid=stMain]")
        _check_screen(page, "items: meaningless query")
        # the item page
        page.goto(f"{server}/item?item=50")
        settle(page)
        assert "Who gets it recommended" in page.inner_text("[data-testid=stMain]")
        _check_screen(page, "item page")
        browser.close()

