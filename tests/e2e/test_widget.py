"""The embeddable widget in a real browser (Debian chromium driven by Playwright): the shop's
page, served from another origin than kefu, pastes one ``<script>`` tag. A customer opens the
launcher, gets a streamed answer with its sources, rates it, reloads and finds the
conversation again; a hostile stylesheet neither hides the widget nor is changed by it; a
phone gets a full-screen window; both UI languages; a site kefu does not allow gets nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest

from tests.e2e.browser import (
    assert_all_readable,
    assert_apart,
    assert_language,
    assert_on_screen,
    box,
    readable_text,
)
from tests.e2e.widget_sites import ADMIN, THEME, Sites, widget_sites

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

pytestmark = pytest.mark.slow

W = "kefu-widget"  # Playwright's CSS selectors reach into the widget's (open) shadow root
LAUNCHER = f"{W} .kw-launcher"
WINDOW = f"{W} .kw-window"
QUESTION = "退货要扣多少运费?"
# A browser logs every 4xx as a console error; the events API (proactive offers) is not served
# by this build, and its 404 is expected and silently handled.
EXPECTED_404 = "the server responded with a status of 404"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    with widget_sites(tmp_path_factory.mktemp("widget")) as running:
        yield running


def stored(page: Page, sites: Sites) -> dict[str, Any]:
    """What the widget keeps in the shop's localStorage (its session, its conversation)."""
    raw = page.evaluate(f"() => localStorage.getItem('kefu.widget:{sites.kefu}:demo-shop')")
    assert isinstance(raw, str), "the widget stored nothing"
    value: dict[str, Any] = json.loads(raw)
    return value


def watch(page: Page) -> list[str]:
    """Console errors and page errors, except the expected 404 of the events API."""
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and EXPECTED_404 not in message.text:
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def ask(page: Page, question: str) -> None:
    page.locator(f"{W} .kw-input").fill(question)
    page.locator(f"{W} .kw-input").press("Enter")


def test_a_shop_on_another_origin_chats_streams_rates_and_resumes(
    sites: Sites, browser: Browser
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        page = context.new_page()
        errors = watch(page)
        to_kefu: list[Request] = []
        page.on("request", lambda r: to_kefu.append(r) if r.url.startswith(sites.kefu) else None)
        page.goto(sites.shop + "/")
        launcher = page.locator(LAUNCHER)
        expect(launcher).to_be_visible()
        assert readable_text(launcher) == THEME["launcher_text"]["zh"]  # type: ignore[index]
        assert_on_screen(page, launcher)
        # Themed from the app file: bottom-left, the shop's colour and logo.
        assert box(launcher)["x"] < 100
        colour = launcher.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(11, 110, 79)"
        expect(page.locator(WINDOW)).to_be_hidden()

        launcher.click()
        window = page.locator(WINDOW)
        expect(window).to_be_visible()
        assert_on_screen(page, window)
        assert_apart(window, launcher)
        assert readable_text(page.locator(f"{W} .kw-title")) == "小铺优选 客服"
        assert page.locator(f"{W} .kw-logo").evaluate("img => img.naturalWidth") > 0
        greeting = page.locator(f"{W} .kw-msg-bot").first
        expect(greeting).to_have_text(THEME["greeting"]["zh"])  # type: ignore[index]
        expect(page.locator(f"{W} .kw-suggestion").first).to_be_visible()

        ask(page, QUESTION)
        answer = page.locator(f"{W} .kw-msg-bot").last
        expect(answer).to_contain_text("12 元")
        sources = page.locator(f"{W} .kw-sources")
        expect(sources).to_be_visible()
        assert readable_text(sources.locator(".kw-sources-title")) == "来源"
        assert_all_readable(page, f"{W} .kw-source-name")
        assert readable_text(answer)
        like = page.locator(f"{W} .kw-like").last
        like.click()
        expect(like).to_have_attribute("aria-pressed", "true")
        expect(page.locator(f"{W} .kw-feedback-status").last).to_have_text("感谢反馈")

        # The answer streamed (SSE), cross-origin, with the visitor's session and no app key.
        chat = next(r for r in to_kefu if r.url.endswith("/v1/chat-messages"))
        assert json.loads(chat.post_data or "{}")["response_mode"] == "streaming"
        assert chat.response() is not None
        assert "text/event-stream" in chat.response().headers["content-type"]  # type: ignore[union-attr]
        for sent in to_kefu:
            headers = sent.all_headers()
            if "/widget.js" not in sent.url:
                assert headers.get("origin") == sites.shop, sent.url
            bearer = headers.get("authorization", "Bearer x.y.z").removeprefix("Bearer ")
            assert bearer.count(".") == 2, f"{sent.url} sent a key, not a session"

        saved = stored(page, sites)
        conversation = saved["conversationId"]
        visitor = jwt.decode(saved["token"], options={"verify_signature": False})["sub"]
        view = httpx.get(f"{sites.kefu}/v1/agent/conversations/{conversation}", headers=ADMIN)
        assert view.json()["messages"][-1]["feedback"] == {"rating": "like"}

        # A reload: the same visitor, the window still open, the conversation as it was.
        page.reload()
        expect(page.locator(WINDOW)).to_be_visible()
        expect(page.locator(f"{W} .kw-msg-user")).to_have_text([QUESTION])
        expect(page.locator(f"{W} .kw-msg-bot").last).to_contain_text("12 元")
        expect(page.locator(f"{W} .kw-like").last).to_have_attribute("aria-pressed", "true")
        expect(page.locator(f"{W} .kw-sources")).to_be_visible()
        again = stored(page, sites)
        assert jwt.decode(again["token"], options={"verify_signature": False})["sub"] == visitor
        ask(page, "怎么开发票？")
        expect(page.locator(f"{W} .kw-msg-user")).to_have_count(2)
        expect(page.locator(f"{W} .kw-feedback")).to_have_count(2)  # the answer is complete
        assert stored(page, sites)["conversationId"] == conversation
        view = httpx.get(f"{sites.kefu}/v1/agent/conversations/{conversation}", headers=ADMIN)
        assert [m["query"] for m in view.json()["messages"]] == [QUESTION, "怎么开发票？"]

        page.locator(f"{W} .kw-close").click()
        expect(page.locator(WINDOW)).to_be_hidden()
        assert errors == []
    finally:
        context.close()


SNAPSHOT_JS = """() => {
  const pick = (el) => {
    const s = getComputedStyle(el);
    return [s.display, s.color, s.fontSize, s.fontFamily, s.position, s.backgroundColor,
            s.margin, s.lineHeight].join('|');
  };
  return {
    styles: ['html', 'body', 'main', '#host-text', '#host-button']
      .map((q) => pick(document.querySelector(q))),
    sheets: document.styleSheets.length,
    globals: Object.keys(window).sort(),
  };
}"""


def test_hostile_host_css_cannot_break_it_and_it_changes_nothing_on_the_page(
    sites: Sites, browser: Browser
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors = watch(page)
        page.goto(sites.shop + "/?hostile=1&widget=0&lang=en")
        without = page.evaluate(SNAPSHOT_JS)
        page.goto(sites.shop + "/?hostile=1&lang=en")
        launcher = page.locator(LAUNCHER)
        expect(launcher).to_be_visible()
        assert readable_text(launcher) == "Ask XiaoPu"
        assert_on_screen(page, launcher)
        launcher.click()
        expect(page.locator(WINDOW)).to_be_visible()
        assert_on_screen(page, page.locator(WINDOW))
        ask(page, "How much is the return shipping fee?")
        answer = page.locator(f"{W} .kw-msg-bot").last
        expect(answer).to_contain_text("12")
        expect(page.locator(f"{W} .kw-feedback")).to_be_visible()
        assert_all_readable(page, f"{W} .kw-msg")
        assert_all_readable(page, f"{W} .kw-title, {W} .kw-send, {W} .kw-rate")
        size = answer.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size == 14  # not the page's 2px
        # The page looks the same as without the widget; one new global, `kefu`.
        with_widget = page.evaluate(SNAPSHOT_JS)
        assert with_widget["styles"] == without["styles"]
        assert with_widget["sheets"] == without["sheets"]
        assert set(with_widget["globals"]) - set(without["globals"]) == {"kefu"}
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_phone_gets_the_whole_screen_in_each_language(
    sites: Sites, browser: Browser, lang: str
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 390, "height": 740}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(f"{sites.shop}/?lang={lang}")
        launcher = page.locator(LAUNCHER)
        expect(launcher).to_be_visible()
        assert_on_screen(page, launcher)
        launcher.tap()
        window = page.locator(WINDOW)
        expect(window).to_be_visible()
        assert box(window) == {"x": 0, "y": 0, "width": 390, "height": 740}
        expect(launcher).to_be_hidden()  # under the full-screen window: out of the way
        for part in (".kw-title", ".kw-input", ".kw-send", ".kw-close"):
            assert_on_screen(page, page.locator(f"{W} {part}"))
        expect(page.locator(f"{W} .kw-suggestion").first).to_be_visible()
        texts = assert_all_readable(
            page, f"{W} .kw-subtitle, {W} .kw-send, {W} .kw-msg-bot, {W} .kw-suggestion"
        )
        assert_language(texts, lang)
        placeholder = page.locator(f"{W} .kw-input").get_attribute("placeholder") or ""
        assert_language([placeholder], lang)

        # The toggle switches every string to the other language.
        page.locator(f"{W} .kw-lang").tap()
        other = "en" if lang == "zh" else "zh"
        texts = assert_all_readable(page, f"{W} .kw-subtitle, {W} .kw-send, {W} .kw-msg-bot")
        assert_language(texts, other)
        page.locator(f"{W} .kw-close").tap()
        expect(window).to_be_hidden()
        expect(launcher).to_be_visible()
        assert readable_text(launcher) == THEME["launcher_text"][other]  # type: ignore[index]
    finally:
        context.close()


def test_a_site_kefu_does_not_allow_gets_no_widget_and_no_session(
    sites: Sites, browser: Browser
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        warnings: list[str] = []
        page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
        page.goto(sites.stranger + "/")
        page.wait_for_function("() => window.kefu && window.kefu.status === 'unavailable'")
        assert page.locator(W).count() == 0  # nothing drawn, nothing broken
        assert any("web.allowed_origins" in w for w in warnings), warnings
    finally:
        context.close()
    # What the browser was spared from trying: the session and the chat refuse that origin.
    refused = httpx.post(
        f"{sites.kefu}/web/session", json={"app": "demo-shop"}, headers={"Origin": sites.stranger}
    )
    assert refused.status_code == 403 and "web.allowed_origins" in refused.json()["message"]
    preflight = httpx.options(
        f"{sites.kefu}/v1/chat-messages",
        headers={
            "Origin": sites.stranger,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
