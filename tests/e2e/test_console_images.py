"""An image a customer sent, in the agent's console (real browser, real server): shown from
the agent API with the agent's key, under the page's content policy."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.e2e.test_console import ADMIN, CUSTOMER, open_console
from tests.servers import running_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.slow


def png(width: int, height: int) -> bytes:
    """A real, decodable PNG (red), written out so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("console-images") / "data") as base_url:
        yield base_url


def test_the_agent_sees_the_customers_image(server: str, browser: Browser) -> None:
    from playwright.sync_api import expect

    uploaded = httpx.post(
        f"{server}/v1/files/upload",
        files={"file": ("破损.png", png(40, 30), "image/png")},
        data={"user": "image-customer"},
        headers=CUSTOMER,
    )
    assert uploaded.status_code == 201, uploaded.text
    files = [
        {"type": "image", "transfer_method": "local_file", "upload_file_id": uploaded.json()["id"]},
        {"type": "image", "transfer_method": "remote_url", "url": "https://img.example/b.jpg"},
    ]
    sent = httpx.post(
        f"{server}/v1/chat-messages",
        json={"query": "转人工", "user": "image-customer", "response_mode": "blocking",
              "files": files},
        headers=CUSTOMER, timeout=30,
    )  # fmt: skip
    assert sent.json()["metadata"]["handoff_state"] == "pending_human", sent.text
    agent = httpx.post(
        f"{server}/admin/agents", json={"name": "Mei", "apps": ["*"]}, headers=ADMIN
    ).json()

    page = open_console(browser, server, "zh")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.fill("#login-key", agent["key"])
    page.click("#login-submit")
    page.locator(".inbox-item", has_text="image-customer").click()
    image = page.locator("img.sent-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.sent-image'); "
        "return i && i.complete && i.naturalWidth === 40; }"
    )
    assert image.get_attribute("alt") == "破损.png"
    assert image.get_attribute("title") == "顾客发送的图片"
    link = page.locator("a.sent-link")
    assert link.get_attribute("href") == "https://img.example/b.jpg"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert errors == [], errors
    page.context.close()
