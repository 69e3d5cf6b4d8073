"""The pages' security headers hold in a real browser: the pages still work under their
Content-Security-Policy (no violation), and another site cannot frame them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.servers import running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow

PAGES = {"/": "#input", "/console": "#login-key"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("page-security") / "data") as base_url:
        yield base_url


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_the_headers(server: str, path: str) -> None:
    headers = httpx.get(server + path).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", PAGES)
def test_pages_work_under_their_policy(server: str, browser: Browser, path: str) -> None:
    page = browser.new_context().new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(server + path)
    page.wait_for_load_state("networkidle")
    assert page.locator(PAGES[path]).is_visible()  # the page's script ran and drew it
    assert not [m for m in messages if "Content Security Policy" in m], messages


@pytest.mark.parametrize("path", ["/console", "/static/console/index.html"])
def test_another_site_cannot_frame_the_console(server: str, browser: Browser, path: str) -> None:
    page = browser.new_context().new_page()
    # set_content returns after the load event, which waits for the frame's own load.
    page.set_content(f'<iframe id="f" src="{server}{path}" width="800" height="600"></iframe>')
    frame = page.frame_locator("#f")
    assert frame.locator("#login-key").count() == 0  # refused: nothing of the console shows
