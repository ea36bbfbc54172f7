"""One browser test: a real server on a free port, every page opened by its URL in headless Chromium.

Screenshots go to $RECLENS_SCREENSHOTS (``make screenshots`` points it at assets/screenshots/ and the
models `make build` trained); otherwise to the test's temporary folder, with the session's small models
(conftest.app_store).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bench.common import free_port, start_app, wait_for_app

CHROMIUM = "/usr/bin/chromium"
PAGES = ["overview", "users", "items", "playground", "embeddings", "explanations", "evaluation"]


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
