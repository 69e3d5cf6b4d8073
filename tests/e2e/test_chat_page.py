"""The chat page in a real browser (Debian chromium driven by Playwright) against a real server:
what a customer sees in each UI language — on screen, readable, in that language — and a
question answered with its sources and a thumbs-up stored."""

from __future__ import annotations

import json
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
    page_user,
    readable_text,
)
from tests.servers import KEY, running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

LANGUAGES = ["zh", "en"]
SEES = {
    "zh": {
        "title": "小铺优选 客服",
        "opening": "您好，欢迎来到小铺优选！",
        "suggestions": [
            "订单多久发货？",
            "退货要扣多少运费？",
            "为什么我的会员等级降了？",
            "怎么开发票？",
        ],
        "question": "退货要扣多少运费?",
        "answer": "12 元",
        "sources": "来源",
        "placeholder": "输入您的问题…",
        "busy": "请求太频繁，请稍后再试",
    },
    "en": {
        "title": "XiaoPu Select Customer Service",
        "opening": "Hello and welcome to XiaoPu Select!",
        "suggestions": ["How do I return an item?", "Can I change my delivery address?"],
        "question": "How much is the return shipping fee?",
        "answer": "CNY 12",
        "sources": "Sources",
        "placeholder": "Type your question…",
        "busy": "Too many requests. Please wait a moment and try again.",
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("chat-page") / "data"
    with running_server(data_dir) as base_url:
        yield base_url


def open_chat(browser: Browser, server: str, lang: str, **context: Any) -> Page:
    """A fresh tab on the chat page with ``lang`` chosen (as the toggle remembers it)."""
    context.setdefault("viewport", {"width": 1280, "height": 800})
    tab = browser.new_context(**context)
    tab.add_init_script(f"localStorage.setItem('kefu.web.lang', '{lang}')")
    page = tab.new_page()
    page.goto(server + "/")
    page.wait_for_selector(".suggestion")
    return page


def check_frame(page: Page) -> None:
    """Header, conversation and composer stack without overlapping, all on screen."""
    header, main, footer = (
        page.locator(".app-header"),
        page.locator("#chat-main"),
        page.locator(".composer-wrap"),
    )
    for part in (header, main, footer, page.locator("#input"), page.locator("#send")):
        assert_on_screen(page, part)
    assert_apart(header, main)
    assert_apart(main, footer)
    assert box(footer)["y"] > box(main)["y"] > box(header)["y"]
    assert_no_page_scroll(page)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_page_shows_the_customer_only_what_is_needed_in_their_language(
    server: str, browser: Browser, lang: str
) -> None:
    from playwright.sync_api import expect

    page = open_chat(browser, server, lang)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sees = SEES[lang]
    expect(page.locator("#app-title")).to_have_text(sees["title"])
    assert page.title() == sees["title"]
    opening = page.locator(".msg.bot").first
    assert readable_text(opening).startswith(sees["opening"])
    assert assert_all_readable(page, ".suggestion") == sees["suggestions"]
    assert page.locator("#input").get_attribute("placeholder") == sees["placeholder"]
    for gone in ("#handoff-banner", "#stop", ".msg-error", ".csat"):
        assert page.locator(gone).is_hidden(), f"{gone} is visible"
    assert page.locator("#send").is_visible() and page.locator("#send").is_disabled()
    check_frame(page)
    assert_language(assert_all_readable(page, "#app-title, .brand-sub, #new-conversation"), lang)
    hint = readable_text(page.locator("#composer-hint"))  # names keys: Enter, Shift+Enter
    assert bool(CJK.search(hint)) == (lang == "zh"), hint
    readable_text(page.locator("#char-counter"))
    readable_text(page.locator("#lang-toggle"))
    if lang == "en":  # nothing Chinese on the page but the 中文 toggle and the 客 logo
        shown = page.evaluate(
            "() => [...document.querySelectorAll('#lang-toggle, .brand-mark')]"
            ".reduce((text, n) => text.replace(n.innerText, ''), document.body.innerText)"
        )
        assert not CJK.search(shown), shown

    page.fill("#input", sees["question"])
    expect(page.locator("#send")).to_be_enabled()
    page.click("#send")
    answer = page.locator(".msg.bot").nth(1)
    expect(answer).to_contain_text(sees["answer"])
    expect(page.locator(".sources-title").first).to_have_text(sees["sources"])
    expect(page.locator(".feedback-like").first).to_be_visible()
    for gone in ("#stop", ".suggestion", "#handoff-banner", ".msg-error"):
        assert page.locator(gone).is_hidden(), f"{gone} is visible"
    readable_text(page.locator(".msg.user").first)
    readable_text(answer.locator(".msg-text"))
    readable_text(page.locator(".sources-title").first)
    assert_apart(page.locator(".msg.user").first, answer)
    check_frame(page)
    assert errors == []
    page.context.close()


def test_switching_language_changes_every_string_at_once(server: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = open_chat(browser, server, "zh")
    page.click("#lang-toggle")
    en = SEES["en"]
    expect(page.locator("#app-title")).to_have_text(en["title"])
    expect(page.locator(".msg.bot").first).to_contain_text(en["opening"])
    expect(page.locator(".suggestion")).to_have_text(en["suggestions"])
    expect(page.locator("#new-conversation")).to_contain_text("New chat")
    page.click("#lang-toggle")
    expect(page.locator("#app-title")).to_have_text(SEES["zh"]["title"])
    expect(page.locator(".suggestion")).to_have_text(SEES["zh"]["suggestions"])
    page.context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_server_error_reads_in_the_pages_language(
    server: str, browser: Browser, lang: str
) -> None:
    from playwright.sync_api import Route, expect

    page = open_chat(browser, server, lang)
    busy = {"status": 429, "code": "too_many_requests", "message": "Too many requests"}

    def refuse(route: Route) -> None:
        route.fulfill(status=429, content_type="application/json", body=json.dumps(busy))

    page.route("**/v1/chat-messages", refuse)
    page.fill("#input", SEES[lang]["question"])
    page.click("#send")
    error = page.locator(".msg-error")
    expect(error).to_have_text(SEES[lang]["busy"])
    readable_text(error)
    page.context.close()


def test_a_phone_sized_window_fits_without_sideways_scrolling(
    server: str, browser: Browser
) -> None:
    page = open_chat(browser, server, "en", viewport={"width": 375, "height": 667})
    check_frame(page)
    for chip in page.locator(".suggestion").all():
        assert_on_screen(page, chip)
    page.context.close()


def test_dark_colour_scheme_is_readable(server: str, browser: Browser) -> None:
    page = open_chat(browser, server, "zh", color_scheme="dark")
    assert_all_readable(
        page, "#app-title, .brand-sub, #new-conversation, #lang-toggle, .msg.bot .msg-text"
    )
    assert_all_readable(page, ".suggestion, #composer-hint, #char-counter")
    page.context.close()


def test_ask_see_sources_and_like(server: str, browser: Browser) -> None:
    page = open_chat(browser, server, "zh")
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    opening = page.locator(".msg.bot").first.inner_text()
    assert opening.startswith("您好")

    page.fill("#input", "退货要扣多少运费?")
    page.click("#send")
    page.wait_for_selector(".sources .source-name")
    answer = page.locator(".msg.bot").nth(1).inner_text()
    assert "12 元" in answer
    assert page.locator(".sources .source-name").first.inner_text() == "faq.jsonl"

    # The thumbs are drawn (SVG), not emoji glyphs that a browser without an emoji font
    # shows as empty boxes; each one is a visible icon of a readable size.
    for button in (".feedback-like", ".feedback-dislike"):
        icon = page.locator(f"{button} svg").first.bounding_box()
        assert icon is not None and icon["width"] >= 12 and icon["height"] >= 12
        assert page.locator(button).first.inner_text().strip() == ""
    page.locator(".feedback-like").first.click()
    page.wait_for_selector('.feedback-like[aria-pressed="true"]')
    user = page_user(page)
    assert console_errors == []
    page.context.close()

    headers = {"Authorization": f"Bearer {KEY}"}
    conversations = httpx.get(
        f"{server}/v1/conversations", params={"user": user}, headers=headers
    ).json()["data"]
    assert len(conversations) == 1
    history = httpx.get(
        f"{server}/v1/messages",
        params={"conversation_id": conversations[0]["id"], "user": user},
        headers=headers,
    ).json()["data"]
    assert history[0]["query"] == "退货要扣多少运费?"
    assert history[0]["answer"] == answer
    assert history[0]["feedback"] == {"rating": "like"}
