"""The chat page during a human hand-over, in a real browser (Debian chromium driven by
Playwright) against a real server: the customer asks for a human, the agent (the admin key,
through the HTTP agent API) claims and replies, the reply shows up live on the page, and
after the agent resolves the customer rates the service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.browser import assert_apart, assert_on_screen, page_user, readable_text
from tests.servers import KEY, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": "Bearer admin-real"}
CUSTOMER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("chat-handoff") / "data"
    with running_server(data_dir) as base_url:
        yield base_url


def agent_call(base_url: str, conversation_id: str, action: str, **body: object) -> None:
    response = httpx.post(
        f"{base_url}/v1/agent/conversations/{conversation_id}/{action}",
        json=body or None,
        headers=ADMIN,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_agent_reply_reaches_the_page_live_and_the_customer_rates_it(
    server: str, browser: Browser
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        page.wait_for_selector(".suggestion")
        banner = page.locator("#handoff-banner")
        expect(banner).to_be_hidden()

        page.fill("#input", "转人工")
        page.click("#send")
        expect(banner).to_have_text("正在为您转接人工客服…")
        expect(page.locator("#stop")).to_be_hidden()
        # The banner sits above the conversation, on screen, readable.
        readable_text(banner)
        assert_on_screen(page, banner)
        assert_apart(banner, page.locator("#messages"))

        user = page_user(page)
        conversations = httpx.get(
            f"{server}/v1/conversations", params={"user": user}, headers=CUSTOMER
        ).json()["data"]
        assert len(conversations) == 1
        cid = conversations[0]["id"]
        assert conversations[0]["handoff_state"] == "pending_human"

        agent_call(server, cid, "claim")
        expect(banner).to_have_text("人工客服 admin 为您服务")
        page.click("#lang-toggle")
        expect(banner).to_have_text("You're chatting with admin")
        readable_text(banner)
        page.click("#lang-toggle")

        agent_call(server, cid, "reply", text="您好，我是人工客服")
        reply = page.locator(".msg.agent")
        expect(reply.locator(".msg-text")).to_have_text("您好，我是人工客服")
        expect(reply.locator(".msg-author")).to_have_text("人工客服admin")

        # While the agent owns the conversation the bot stays silent: no empty bubble.
        bot_bubbles = page.locator(".msg.bot").count()
        page.fill("#input", "运费能免吗？")
        page.click("#send")
        expect(page.locator(".msg.user").last).to_have_text("运费能免吗？")
        expect(page.locator("#stop")).to_be_hidden()
        expect(page.locator(".msg.bot")).to_have_count(bot_bubbles)
        expect(page.locator(".msg-note")).to_have_count(0)
        view = httpx.get(f"{server}/v1/agent/conversations/{cid}", headers=ADMIN).json()
        assert view["messages"][-1]["query"] == "运费能免吗？"

        agent_call(server, cid, "resolve")
        expect(banner).to_be_hidden()
        expect(page.locator(".system-note")).to_contain_text("本次人工服务已结束")
        form = page.locator("form.csat")
        expect(form.locator(".csat-question")).to_contain_text("请为本次人工服务打分")
        expect(form.locator(".csat-submit")).to_be_disabled()
        form.locator('.csat-score[data-value="5"]').click()
        form.locator(".csat-comment").fill("很快就解决了")
        form.locator(".csat-submit").click()
        expect(form.locator(".csat-thanks")).to_have_text("感谢您的评价！")

        page.click("#new-conversation")
        expect(page.locator(".msg.agent")).to_have_count(0)
        expect(banner).to_be_hidden()
        assert errors == []
    finally:
        context.close()

    ratings = httpx.get(f"{server}/admin/csat", headers=ADMIN).json()["data"]
    assert [(r["conversation_id"], r["rating"], r["comment"]) for r in ratings] == [
        (cid, 5, "很快就解决了")
    ]
