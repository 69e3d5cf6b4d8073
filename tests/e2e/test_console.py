"""The operator console in a real browser (Debian chromium driven by Playwright) against a
real server: what an agent sees before and after signing in, in each view and in both UI
languages, and the whole loop of answering a waiting customer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.browser import (
    CJK,
    assert_all_readable,
    assert_apart,
    assert_language,
    assert_no_page_scroll,
    assert_on_screen,
    box,
    readable_text,
)
from tests.servers import KEY, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

ADMIN = {"Authorization": "Bearer admin-real"}
CUSTOMER = {"Authorization": f"Bearer {KEY}"}
LANGUAGES = ["zh", "en"]

# What the agent reads, per UI language.
SEES = {
    "zh": {
        "login": "登录客服控制台",
        "bad_key": "密钥无效",
        "waiting": "等待接入",
        "reason": "转人工原因：顾客要求转人工",
        "last_question": "最后的问题：I want to talk to a human",
        "bot_meta": "机器人 · 常见问题",
        "trace": "路由：常见问题",
        "tickets_head": ["标题", "优先级", "状态", "创建人"],
        "priority": "高",
        "status": "待处理",
        "created_by": "Lee",
    },
    "en": {
        "login": "Sign in to the console",
        "bad_key": "Invalid key",
        "waiting": "waiting",
        "reason": "Hand-over reason: the customer asked for a human",
        "last_question": "Last question: I want to talk to a human",
        "bot_meta": "Bot · FAQ",
        "trace": "Route: FAQ",
        "tickets_head": ["Title", "Priority", "Status", "Created by"],
        "priority": "High",
        "status": "open",
        "created_by": "Lee",
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    with running_server(data_dir) as base_url:
        yield base_url


def ask(base_url: str, query: str, user: str, conversation_id: str = "") -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/v1/chat-messages",
        json={"query": query, "user": user, "response_mode": "blocking",
              "conversation_id": conversation_id},
        headers=CUSTOMER, timeout=30,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def hand_over(base_url: str, user: str, question: str, request: str) -> str:
    """A customer asks a question, then asks for a human; returns the conversation id."""
    cid = str(ask(base_url, question, user)["conversation_id"])
    assert ask(base_url, request, user, cid)["metadata"]["handoff_state"] == "pending_human"
    return cid


@pytest.fixture(scope="module")
def desk(server: str) -> dict[str, str]:
    """An English-speaking customer waiting for a human, with a ticket, and an agent's key."""
    cid = hand_over(
        server, "layout-customer", "How do I return an item?", "I want to talk to a human"
    )
    agent = httpx.post(
        f"{server}/admin/agents", json={"name": "Lee", "apps": ["*"]}, headers=ADMIN
    ).json()
    ticket = httpx.post(
        f"{server}/v1/agent/tickets",
        json={"conversation_id": cid, "title": "Return label", "priority": "high"},
        headers={"Authorization": f"Bearer {agent['key']}"},
    )
    assert ticket.status_code == 201, ticket.text
    return {"conversation_id": cid, "key": agent["key"]}


def open_console(browser: Browser, server: str, lang: str, **context: Any) -> Page:
    """A fresh browser tab on the console with ``lang`` chosen (as the toggle remembers it)."""
    context.setdefault("viewport", {"width": 1280, "height": 800})
    tab = browser.new_context(**context)
    tab.add_init_script(f"localStorage.setItem('kefu.console.lang', '{lang}')")
    page = tab.new_page()
    page.goto(server + "/console")
    return page


def hidden(page: Page, *selectors: str) -> None:
    for selector in selectors:
        assert page.locator(selector).is_hidden(), f"{selector} is visible"


def visible(page: Page, *selectors: str) -> None:
    for selector in selectors:
        assert page.locator(selector).is_visible(), f"{selector} is not visible"


def ui_texts(page: Page, scope: str) -> list[str]:
    """The visible, readable UI strings (translated labels, not customer data) in ``scope``."""
    return assert_all_readable(page, f"{scope} [data-i18n]:not(option)")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_before_sign_in_only_the_login_card_shows(
    server: str, desk: dict[str, str], browser: Browser, lang: str
) -> None:
    from playwright.sync_api import expect

    page = open_console(browser, server, lang)
    sees = SEES[lang]
    expect(page.locator("#login h1")).to_have_text(sees["login"])
    visible(page, "#login", "#login-key", "#login-submit", "#lang-toggle")
    hidden(page, "#desk", ".inbox-pane", "#conversation", "#tickets-pane", "#tickets")
    hidden(page, "#tab-inbox", "#tab-tickets", "#logout", "#online-wrap")
    assert_on_screen(page, page.locator("#login"))
    assert_apart(page.locator(".bar"), page.locator("#login"))
    assert_no_page_scroll(page)
    assert_language(ui_texts(page, "body"), lang)
    assert page.title().startswith(readable_text(page.locator(".brand")))

    page.fill("#login-key", "agent-wrong")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text(sees["bad_key"])
    readable_text(page.locator("#login-error"))
    hidden(page, "#desk")
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_after_sign_in_each_view_shows_only_itself(
    server: str, desk: dict[str, str], browser: Browser, lang: str
) -> None:
    from playwright.sync_api import expect

    page = open_console(browser, server, lang)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sees = SEES[lang]
    page.fill("#login-key", desk["key"])
    page.click("#login-submit")
    expect(page.locator("#who")).to_have_text("Lee")

    # Signed in: the card and the key are gone, the inbox is there, nothing else.
    hidden(page, "#login", "#login-key", "#conversation", "#tickets-pane", "#tickets")
    hidden(page, "#desk-error", "#login-error")
    assert page.locator("#login-key").input_value() == ""
    visible(page, "#desk", ".inbox-pane", "#tab-inbox", "#tab-tickets", "#logout", "#online-wrap")
    assert_on_screen(page, page.locator("#desk"))
    assert_apart(page.locator(".bar"), page.locator("#desk"))
    assert_no_page_scroll(page)
    item = page.locator(".inbox-item", has_text="layout-customer")
    expect(item.locator(".badge")).to_have_text(sees["waiting"])
    assert_on_screen(page, item)

    # A conversation opens beside the inbox, with the hand-over note in the UI's language.
    item.click()
    conversation = page.locator("#conversation")
    expect(conversation).to_be_visible()
    hidden(page, "#tickets-pane", "#tickets", "#login")
    assert_on_screen(page, conversation)
    assert_apart(page.locator(".inbox-pane"), conversation)
    assert box(conversation)["x"] >= box(page.locator(".inbox-pane"))["x"] + 300
    note = page.locator("#note > div")
    expect(note.first).to_have_text(sees["reason"])
    expect(note.last).to_have_text(sees["last_question"])
    expect(page.locator("#conv-state")).to_have_text(sees["waiting"])
    expect(page.locator(".msg.bot .meta span").first).to_have_text(sees["bot_meta"])
    assert_all_readable(page, "#note > div, .msg, .inbox-item, #conv-state, #who")
    texts = ui_texts(page, "body")
    assert_language(texts, lang)
    if lang == "en":  # the customer writes English too: nothing Chinese anywhere but the toggle
        shown = page.evaluate(
            "() => [...document.querySelectorAll('.bar > :not(#lang-toggle), #desk')]"
            ".map(n => n.innerText).join(' ')"
        )
        assert not CJK.search(shown), shown

    page.locator(".trace-toggle").first.click()
    expect(page.locator(".trace").first).to_contain_text(sees["trace"])
    assert_language([readable_text(page.locator(".trace-toggle").first)], lang)

    # The tickets tab: only the table, across the desk.
    page.click("#tab-tickets")
    table = page.locator("#tickets")
    expect(table).to_be_visible()
    hidden(page, ".inbox-pane", "#conversation", "#login")
    assert_on_screen(page, page.locator("#tickets-pane"))
    assert box(table)["width"] > 900, "the tickets table is squeezed into one column"
    expect(table.locator("th")).to_have_text(sees["tickets_head"])
    row = table.locator("tbody tr", has_text="Return label")
    expect(row.locator("td").nth(1)).to_have_text(sees["priority"])
    status = row.locator("select.ticket-status")
    assert status.evaluate("s => s.options[s.selectedIndex].text") == sees["status"]
    expect(row.locator("td").nth(3)).to_have_text(sees["created_by"])
    assert_all_readable(page, "#tickets th, #tickets td")

    # Back to the inbox: the table goes, the open conversation comes back.
    page.click("#tab-inbox")
    expect(page.locator(".inbox-pane")).to_be_visible()
    hidden(page, "#tickets-pane", "#tickets", "#login")
    expect(conversation).to_be_visible()

    # A reload keeps the session (sessionStorage): straight to the desk, no login card.
    page.reload()
    expect(page.locator("#who")).to_have_text("Lee")
    hidden(page, "#login", "#tickets-pane")
    visible(page, "#desk", ".inbox-pane")

    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    hidden(page, "#desk", "#logout", "#tab-inbox", "#tab-tickets", "#online-wrap")
    assert page.locator("#login-key").input_value() == ""
    assert errors == []
    page.context.close()


def test_a_poll_that_brings_nothing_new_leaves_the_lists_alone(
    server: str, desk: dict[str, str], browser: Browser
) -> None:
    """The console polls every 2 s. An inbox item under the agent's pointer and the status
    menu they are choosing in stay where they are while nothing changed (a list rebuilt
    every poll took the menu away from under them); what did change shows at the next
    poll."""
    from playwright.sync_api import expect

    page = open_console(browser, server, "en")
    page.fill("#login-key", desk["key"])
    page.click("#login-submit")
    item = page.locator(".inbox-item", has_text="layout-customer")
    expect(item).to_be_visible()
    item_node = item.element_handle()
    page.click("#tab-tickets")
    status = page.locator("#tickets tbody tr", has_text="Return label").locator("select")
    expect(status).to_be_visible()
    status.focus()
    status_node = status.element_handle()
    page.wait_for_timeout(2600)  # more than one poll
    assert status_node.evaluate("n => n.isConnected && document.activeElement === n")
    assert page.locator("#tickets tbody tr", has_text="Return label").is_visible()

    added = httpx.post(
        f"{server}/v1/agent/tickets",
        json={"conversation_id": desk["conversation_id"], "title": "Gift wrap", "priority": "low"},
        headers={"Authorization": f"Bearer {desk['key']}"},
    )
    assert added.status_code == 201, added.text
    expect(page.locator("#tickets tbody tr", has_text="Gift wrap")).to_be_visible(timeout=5000)
    page.click("#tab-inbox")
    expect(item).to_be_visible()
    item_node = item.element_handle()
    # The item shows whole minutes waited: not across the next minute's turn, which is news
    waited = next(
        row["handoff_at"]
        for row in httpx.get(
            f"{server}/v1/agent/inbox", headers={"Authorization": f"Bearer {desk['key']}"}
        ).json()["data"]
        if row["conversation_id"] == desk["conversation_id"]
    )
    into_minute = (time.time() - waited) % 60
    if into_minute > 55:
        time.sleep(61 - into_minute)
        page.wait_for_timeout(2600)  # the poll that shows the new minute
        item_node = item.element_handle()
    page.wait_for_timeout(2600)
    assert item_node.evaluate("n => n.isConnected")
    page.context.close()


def test_a_phone_sized_window_shows_the_same_views_without_sideways_scrolling(
    server: str, desk: dict[str, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    page = open_console(browser, server, "en", viewport={"width": 390, "height": 844})
    assert_on_screen(page, page.locator("#login"))
    assert_no_page_scroll(page)
    page.fill("#login-key", desk["key"])
    page.click("#login-submit")
    expect(page.locator("#who")).to_have_text("Lee")
    hidden(page, "#login", "#tickets-pane")
    page.locator(".inbox-item", has_text="layout-customer").click()
    expect(page.locator("#conversation")).to_be_visible()
    assert_apart(page.locator(".inbox-pane"), page.locator("#conversation"))
    for part in (".bar", "#desk", ".inbox-pane", "#conversation"):
        assert_on_screen(page, page.locator(part))
    assert_no_page_scroll(page)
    page.context.close()


def test_dark_colour_scheme_is_readable(
    server: str, desk: dict[str, str], browser: Browser
) -> None:
    from playwright.sync_api import expect

    page = open_console(browser, server, "zh", color_scheme="dark")
    assert_all_readable(page, "#login h1, #login label, #login-submit, .brand, #lang-toggle")
    page.fill("#login-key", desk["key"])
    page.click("#login-submit")
    page.locator(".inbox-item", has_text="layout-customer").click()
    expect(page.locator("#note > div").first).to_be_visible()
    assert_all_readable(page, "#note > div, .msg, .inbox-item, .tab, .btn:not(:disabled)")
    page.context.close()


def test_agent_answers_a_waiting_customer_and_resolves(server: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    cid = hand_over(server, "console-customer", "退货要扣多少运费?", "转人工")
    agent = httpx.post(
        f"{server}/admin/agents", json={"name": "小李", "apps": ["*"]}, headers=ADMIN
    ).json()
    page = open_console(browser, server, "zh")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.fill("#login-key", agent["key"])
    page.click("#login-submit")
    expect(page.locator("#who")).to_have_text("小李")
    item = page.locator(".inbox-item", has_text="console-customer")
    expect(item.locator(".badge")).to_have_text("等待接入")
    item.click()
    expect(page.locator(".msg.customer").last).to_have_text("转人工")
    expect(page.locator("#note > div").first).to_have_text("转人工原因：顾客要求转人工")

    page.locator(".trace-toggle").first.click()
    expect(page.locator(".trace").first).to_contain_text("路由：常见问题")

    page.click("#claim")
    expect(page.locator("#conv-state")).to_have_text("处理中")
    page.fill("#reply-input", "您好，我是小李，运费的事我来帮您处理。")
    page.click("#reply-send")
    expect(page.locator(".msg.agent")).to_contain_text("我是小李")
    page.fill("#note-input", "老顾客，运费可以免")
    page.click("#note-add")
    expect(page.locator("#notes li")).to_have_text("小李：老顾客，运费可以免")

    # Switching language re-renders everything, the note included.
    page.click("#lang-toggle")
    expect(page.locator("#resolve")).to_have_text("Resolve (back to the bot)")
    expect(page.locator("#note > div").first).to_have_text(
        "Hand-over reason: the customer asked for a human"
    )
    expect(page.locator("#notes li")).to_have_text("小李: 老顾客，运费可以免")
    page.click("#resolve")
    expect(page.locator("#conv-state")).to_have_text("resolved")
    assert errors == []
    page.context.close()

    history = httpx.get(
        f"{server}/v1/messages",
        params={"conversation_id": cid, "user": "console-customer"},
        headers=CUSTOMER,
    ).json()["data"]
    assert history[-1]["answer"] == "您好，我是小李，运费的事我来帮您处理。"
    assert history[-1]["agent"]["name"] == "小李"
    back = ask(server, "退货要扣多少运费?", "console-customer", cid)
    assert "12 元" in str(back["answer"])
    assert back["metadata"]["handoff_state"] == "bot"


def test_console_page_is_served(server: str) -> None:
    page = httpx.get(f"{server}/console")
    assert page.status_code == 200 and "console.js" in page.text
    script = httpx.get(f"{server}/static/console/console.js")
    assert script.status_code == 200 and "/v1/agent/inbox" in script.text
