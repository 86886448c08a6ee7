"""The dashboard in real headless Chromium, driven with Playwright (browser from Debian)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from api.app import Services, create_app
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.models import FeedConfig, FeedState, utcnow
from tests.support.builders import CHROMIUM_FLAGS as FLAGS
from tests.support.builders import make_entity_signal, make_signal
from tests.support.live_server import live_uvicorn

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")


@pytest.fixture
def server(classifier: OnnxClassifier, tmp_path: Path) -> Iterator[tuple[str, SQLiteSignalStore]]:
    store = SQLiteSignalStore(tmp_path / "dash.db")
    now = utcnow()
    store.put_many([make_signal(i, source="wire", seen=now - timedelta(minutes=30 - i),
                                tickers=["NOK"] if i == 1 else [],
                                title=f"Stored headline {i}") for i in range(3)])
    store.put_many([make_entity_signal(
        5, [("DB", "rater", (0.2, 0.7, 0.1)), ("TSLA", "subject", (0.8, 0.1, 0.1))],
        source="wire", seen=now - timedelta(minutes=20), probs=(0.8, 0.1, 0.1))])
    store.put_feed_state(FeedState(feed_id="wire", url="http://127.0.0.1/wire",
                                   last_attempt_at=now, last_success_at=now, items_seen=3,
                                   signals_written=3))
    feeds = [FeedConfig(id="wire", url="http://127.0.0.1/wire", name="Wire")]
    with live_uvicorn(create_app(Services(store, classifier=classifier, feeds=feeds))) as base:
        yield base, store
    store.close()


def test_dashboard_in_chromium(server: tuple[str, SQLiteSignalStore], chromium_path: str,
                               tmp_path: Path) -> None:
    base, store = server
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(base + "/")

        rows = page.locator("#signals tbody tr")
        sync_api.expect(rows).to_have_count(4)
        # Entity chips: the subject plain, the rater marked as such, coloured by sentiment.
        sync_api.expect(page.locator('.chip[data-ticker="TSLA"]')).to_have_class(
            "chip subject negative")
        sync_api.expect(page.locator('.chip[data-ticker="DB"]')).to_have_text("DB · rater")
        sync_api.expect(page.locator('#signals .chip:text-is("NOK")')).to_have_count(1)
        sync_api.expect(page.locator("#signals")).to_contain_text("Stored headline 2")
        sync_api.expect(page.locator("#health")).to_contain_text("model ")
        sync_api.expect(page.locator("#feeds tbody")).to_contain_text("Wire")
        sync_api.expect(page.locator("#label-mix div")).to_have_count(2)  # 3 positive, 1 negative
        sync_api.expect(page.locator("#chart rect")).not_to_have_count(0)
        sync_api.expect(page.locator("#live")).to_have_text("live: on", timeout=10_000)
        sync_api.expect(page.locator("#alerts-empty")).to_be_visible()  # no --alerts here

        # A signal stored now arrives over server-sent events, without a reload.
        store.put_many([make_signal(9, source="wire", seen=utcnow(),
                                    title="Fresh headline over SSE")])
        sync_api.expect(rows).to_have_count(5, timeout=15_000)
        sync_api.expect(rows.first).to_contain_text("Fresh headline over SSE")
        sync_api.expect(page.locator("#live")).to_have_attribute("data-received", "1")

        # The classify box.
        page.fill("#classify-input", "profit fell to a loss")
        page.click("#classify-form button")
        result = page.locator("#classify-result")
        sync_api.expect(result).to_have_attribute("data-label", "negative")
        sync_api.expect(result).to_contain_text("negative")

        # A filter narrows the table to one ticker.
        page.screenshot(path=str(tmp_path / "dashboard-all.png"), full_page=True)
        page.fill("#filter-ticker", "NOK")
        page.press("#filter-ticker", "Enter")
        sync_api.expect(rows).to_have_count(1)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        browser.close()
    assert problems == []
