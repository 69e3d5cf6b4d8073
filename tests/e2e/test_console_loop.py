"""The knowledge loop in the console, in a real browser against a real server: the admin
sees the unanswered questions grouped, drafts and publishes an answer, and the group leaves
the list; the next customer gets the answer. An agent saves a reply as an answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.browser import assert_all_readable, assert_language, assert_on_screen
from tests.e2e.test_console import ADMIN, ask, hand_over, hidden, open_console, visible
from tests.servers import running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

STORE = ["店铺有线下门店吗", "店铺有线下门店吗", "有实体店吗"]
ANSWER = "我们目前只在网上销售，没有线下门店。"
SEES = {
    "zh": {"tab": "知识缺口", "asked": "问了 3 次",
           "published": "已发布。过去的问题中有 3 个现在能直接回答了。"},
    "en": {"tab": "Knowledge gaps", "asked": "asked 3×",
           "published": "Published. 3 earlier questions are now answered directly."},
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("loop") / "data") as base_url:
        for n, question in enumerate(STORE):
            ask(base_url, question, f"store-{n}")
        yield base_url


def sign_in(page: Page, key: str) -> None:
    page.fill("#login-key", key)
    page.click("#login-submit")
    page.locator("#desk").wait_for(state="visible")


def open_gaps(browser: Browser, server: str, lang: str) -> Page:
    from playwright.sync_api import expect

    page = open_console(browser, server, lang)
    sign_in(page, "admin-real")
    page.click("#tab-gaps")
    expect(page.locator("#tab-gaps")).to_have_text(SEES[lang]["tab"])
    visible(page, "#gaps-pane")
    hidden(page, ".inbox-pane", "#analytics-pane", "#answer-editor")
    group = page.locator(".gap", has_text="店铺有线下门店吗")
    expect(group).to_be_visible()
    expect(group.locator(".badge").first).to_have_text(SEES[lang]["asked"])
    expect(group.locator(".gap-examples")).to_contain_text("有实体店吗")
    assert_on_screen(page, group)
    assert_language(assert_all_readable(page, "#gaps-pane [data-i18n]:not(#gaps-count)"), lang)
    group.locator(".gap-draft").click()
    editor = page.locator("#answer-editor")
    expect(editor).to_be_visible()
    assert_on_screen(page, editor)
    expect(page.locator("#editor-question")).to_have_value("店铺有线下门店吗")
    expect(page.locator("#editor-variants")).to_have_value("有实体店吗")
    assert_language(assert_all_readable(page, "#answer-editor [data-i18n]:not(option)"), lang)
    return page


def test_in_english_the_gaps_and_the_editor_read_in_english(server: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = open_gaps(browser, server, "en")
    page.click("#editor-cancel")
    expect(page.locator("#answer-editor")).to_be_hidden()
    expect(page.locator(".gap", has_text="店铺有线下门店吗")).to_be_visible()  # nothing published
    page.context.close()


def test_the_admin_publishes_an_answer_to_a_gap(server: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = open_gaps(browser, server, "zh")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.fill("#editor-answer", ANSWER)
    page.click("#editor-save")
    expect(page.locator("#answer-editor")).to_be_hidden()
    expect(page.locator("#loop-notice")).to_have_text(SEES["zh"]["published"])
    expect(page.locator(".gap", has_text="店铺有线下门店吗")).to_have_count(0)
    assert errors == []
    page.context.close()

    assert ask(server, "有实体店吗", "store-after")["answer"] == ANSWER


def test_an_agent_saves_a_reply_as_an_answer(server: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    cid = hand_over(server, "gift-customer", "可以开礼品卡吗", "转人工")
    made = httpx.post(f"{server}/admin/agents", json={"name": "Ann", "apps": ["*"]}, headers=ADMIN)
    key = made.json()["key"]
    reply = "可以，在结账页勾选“礼品卡”即可。"
    sent = httpx.post(
        f"{server}/v1/agent/conversations/{cid}/reply",
        json={"text": reply}, headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert sent.status_code == 200, sent.text

    page = open_console(browser, server, "zh")
    sign_in(page, key)
    hidden(page, "#tab-gaps")  # the gap list is the admin's
    page.locator(".inbox-item", has_text="gift-customer").click()
    save = page.locator(".msg.agent .save-answer")
    expect(save).to_have_text("保存为答案")
    save.click()
    expect(page.locator("#answer-editor")).to_be_visible()
    expect(page.locator("#editor-question")).to_have_value("转人工")
    page.fill("#editor-question", "可以开礼品卡吗")
    expect(page.locator("#editor-answer")).to_have_value(reply)
    page.click("#editor-save")
    expect(page.locator("#answer-editor")).to_be_hidden()
    expect(page.locator("#loop-notice")).to_be_visible()
    page.context.close()
    assert ask(server, "可以开礼品卡吗", "gift-after")["answer"] == reply
