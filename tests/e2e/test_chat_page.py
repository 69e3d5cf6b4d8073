"""The chat page in a real browser (Debian chromium driven by Playwright) against a real server:
a customer asks, the answer streams in with its sources, and a thumbs-up is stored."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import KEY, running_server

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without these, chromium tries to reach Google's hosts at start and this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("chat-page") / "data"
    with running_server(data_dir) as base_url:
        yield base_url, data_dir


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")
def test_ask_see_sources_and_like(server: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    base_url, _ = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            console_errors: list[str] = []
            page.on(
                "console", lambda m: console_errors.append(m.text) if m.type == "error" else None
            )
            page.goto(base_url + "/")
            page.wait_for_selector(".suggestion")
            opening = page.locator(".msg.bot").first.inner_text()
            assert opening.startswith("您好")

            page.fill("#input", "退货要扣多少运费?")
            page.click("#send")
            page.wait_for_selector(".sources .source-name")
            answer = page.locator(".msg.bot").nth(1).inner_text()
            assert "12 元" in answer
            assert page.locator(".sources .source-name").first.inner_text() == "faq.jsonl"

            page.locator(".feedback-like").first.click()
            page.wait_for_selector('.feedback-like[aria-pressed="true"]')
            user = page.evaluate(
                "() => Object.values(localStorage).find(v => v.startsWith('web-'))"
            )
            assert console_errors == []
        finally:
            browser.close()

    headers = {"Authorization": f"Bearer {KEY}"}
    conversations = httpx.get(
        f"{base_url}/v1/conversations", params={"user": user}, headers=headers
    ).json()["data"]
    assert len(conversations) == 1
    history = httpx.get(
        f"{base_url}/v1/messages",
        params={"conversation_id": conversations[0]["id"], "user": user},
        headers=headers,
    ).json()["data"]
    assert history[0]["query"] == "退货要扣多少运费?"
    assert history[0]["answer"] == answer
    assert history[0]["feedback"] == {"rating": "like"}
