"""The operator console in a real browser (Debian chromium driven by Playwright) against a
real server: an agent logs in, answers a waiting customer, looks at a trace, and resolves."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.servers import KEY, running_server

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": "Bearer admin-real"}
CUSTOMER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    with running_server(data_dir) as base_url:
        yield base_url


def ask(base_url: str, query: str, conversation_id: str = "") -> dict[str, object]:
    response = httpx.post(
        f"{base_url}/v1/chat-messages",
        json={"query": query, "user": "console-customer", "response_mode": "blocking",
              "conversation_id": conversation_id},
        headers=CUSTOMER, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")
def test_agent_answers_a_waiting_customer_and_resolves(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    first = ask(server, "退货要扣多少运费?")
    cid = str(first["conversation_id"])
    assert ask(server, "转人工", cid)["metadata"]["handoff_state"] == "pending_human"  # type: ignore[index]
    agent = httpx.post(f"{server}/admin/agents", json={"name": "小李"}, headers=ADMIN).json()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server + "/console")
            page.fill("#login-key", "agent-wrong")
            page.click("#login-submit")
            expect(page.locator("#login-error")).to_have_text("密钥无效")
            errors.clear()  # the refused key logs a failed request

            page.fill("#login-key", agent["key"])
            page.click("#login-submit")
            expect(page.locator("#who")).to_have_text("小李")
            item = page.locator(".inbox-item", has_text="console-customer")
            expect(item.locator(".badge")).to_have_text("等待接入")
            item.click()
            expect(page.locator(".msg.customer").last).to_have_text("转人工")
            expect(page.locator("#note")).to_contain_text("the customer asked for a human")

            page.locator(".trace-toggle").first.click()
            expect(page.locator(".trace").first).to_contain_text("route: faq")

            page.click("#claim")
            expect(page.locator("#conv-state")).to_have_text("处理中")
            page.fill("#reply-input", "您好，我是小李，运费的事我来帮您处理。")
            page.click("#reply-send")
            expect(page.locator(".msg.agent")).to_contain_text("我是小李")
            page.fill("#note-input", "老顾客，运费可以免")
            page.click("#note-add")
            expect(page.locator("#notes li")).to_have_text("小李：老顾客，运费可以免")

            page.click("#lang-toggle")
            expect(page.locator("#resolve")).to_have_text("Resolve (back to the bot)")
            page.click("#resolve")
            expect(page.locator("#conv-state")).to_have_text("resolved")
            assert errors == []
        finally:
            browser.close()

    history = httpx.get(
        f"{server}/v1/messages",
        params={"conversation_id": cid, "user": "console-customer"},
        headers=CUSTOMER,
    ).json()["data"]
    assert history[-1]["answer"] == "您好，我是小李，运费的事我来帮您处理。"
    assert history[-1]["agent"]["name"] == "小李"
    back = ask(server, "退货要扣多少运费?", cid)
    assert "12 元" in str(back["answer"])
    assert back["metadata"]["handoff_state"] == "bot"  # type: ignore[index]


def test_console_page_is_served(server: str) -> None:
    page = httpx.get(f"{server}/console")
    assert page.status_code == 200 and "console.js" in page.text
    script = httpx.get(f"{server}/static/console/console.js")
    assert script.status_code == 200 and "/v1/agent/inbox" in script.text
