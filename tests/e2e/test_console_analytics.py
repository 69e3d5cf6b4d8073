"""The console's analytics dashboard in a real browser against a real server: the admin
sees the figures of a history made through the API, as cards and charts in the UI's
language, and exports them as CSV; an agent does not see the dashboard at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.browser import assert_all_readable, assert_language, assert_on_screen
from tests.e2e.test_console import ADMIN, LANGUAGES, ask, hand_over, hidden, open_console, visible
from tests.servers import running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

SEES = {
    "zh": {"tab": "数据分析", "reason": "顾客要求", "containment": "独立完成率", "tz": "时区 UTC"},
    "en": {"tab": "Analytics", "reason": "customer asked", "containment": "Containment",
           "tz": "time zone UTC"},
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two conversations today: one the bot kept, one handed over; an agent's key."""
    with running_server(tmp_path_factory.mktemp("analytics") / "data") as base_url:
        ask(base_url, "How do I return an item?", "kept-customer")
        hand_over(base_url, "handed-customer", "退货要扣多少运费？", "转人工")
        accept_refund_offer(base_url)
        yield base_url


def accept_refund_offer(base_url: str) -> None:
    """A page visitor opens the refund page twice (the demo's proactive rule) and accepts."""
    token = httpx.post(f"{base_url}/web/session", json={}).json()["token"]
    visitor = {"Authorization": f"Bearer {token}"}
    visit = {"event": "page_view", "properties": {"path": "/orders/refund"}}
    offers = [httpx.post(f"{base_url}/web/events", json=visit, headers=visitor) for _ in "12"]
    [offer] = offers[1].json()["offers"]
    accepted = httpx.post(f"{base_url}/web/offers/{offer['id']}/accept", headers=visitor)
    assert accepted.status_code == 200, accepted.text


@pytest.fixture(scope="module")
def agent_key(server: str) -> str:
    made = httpx.post(f"{server}/admin/agents", json={"name": "Mei", "apps": ["*"]}, headers=ADMIN)
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def sign_in(page: Page, key: str) -> None:
    page.fill("#login-key", key)
    page.click("#login-submit")
    page.locator("#desk").wait_for(state="visible")


def kpi(page: Page, label: str) -> str:
    card = page.locator(".kpi", has=page.locator(".kpi-label", has_text=label))
    return card.locator(".kpi-value").inner_text()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_admin_sees_the_figures_as_cards_and_charts(
    server: str, browser: Browser, lang: str
) -> None:
    from playwright.sync_api import expect

    page = open_console(browser, server, lang)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "admin-real")
    sees = SEES[lang]
    tab = page.locator("#tab-analytics")
    expect(tab).to_have_text(sees["tab"])
    hidden(page, "#analytics-pane")
    tab.click()
    pane = page.locator("#analytics-pane")
    expect(pane).to_be_visible()
    hidden(page, ".inbox-pane", "#conversation", "#tickets-pane")
    expect(page.locator(".kpi")).not_to_have_count(0)
    assert_on_screen(page, page.locator("#kpis"))
    assert kpi(page, sees["containment"]) == "50%"
    # The conversations chart: a bar for each kind of conversation today, with its value.
    bars = page.locator("#chart-conversations svg rect:not(.legend rect)")
    expect(bars).to_have_count(2)
    titles = [
        t.strip() for t in page.locator("#chart-conversations svg rect title").all_text_contents()
    ]
    assert any(t.endswith(": 1") for t in titles), titles
    visible(page, "#chart-conversations svg", "#chart-rates svg", "#chart-reasons svg")
    expect(page.locator("#chart-reasons svg text").first).to_have_text(sees["reason"])
    assert_all_readable(page, "#analytics-pane .kpi-label, #analytics-pane figcaption")
    # (the time zone's name is data: its label is checked apart)
    assert_language(
        assert_all_readable(page, "#analytics-pane [data-i18n]:not(#analytics-tz)"), lang
    )
    expect(page.locator("#analytics-tz")).to_have_text(sees["tz"])
    # The proactive offers: the refund rule's one offer, accepted.
    cells = page.locator("#analytics-proactive tbody tr td")
    expect(cells).to_have_text(["refund_help", "1", "1", "0", "100%"])
    assert (
        page.locator("#analytics-from").input_value() <= page.locator("#analytics-to").input_value()
    )

    with page.expect_download() as download:
        page.click("#analytics-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *rows = text.splitlines()
    assert header.startswith("day,conversations,contained,containment_rate")
    assert rows[-1].startswith("total,2,1,0.5")
    assert errors == []
    page.context.close()


def test_an_agent_does_not_see_the_dashboard(server: str, agent_key: str, browser: Browser) -> None:
    page = open_console(browser, server, "zh")
    sign_in(page, agent_key)
    hidden(page, "#tab-analytics", "#analytics-pane")
    visible(page, "#tab-inbox", "#tab-tickets")
    forbidden = httpx.get(
        f"{server}/admin/apps/demo-shop/analytics", headers={"Authorization": f"Bearer {agent_key}"}
    )
    assert forbidden.status_code in (401, 403)
    page.context.close()
