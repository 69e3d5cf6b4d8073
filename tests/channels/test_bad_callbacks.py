"""Whatever arrives at a channel callback gets a clear answer in the error envelope, never
a 500: garbage, wrong methods, missing fields."""

from __future__ import annotations

import httpx
import pytest

from tests.channels.conftest import Shop

CASES = [
    ("wecom", "POST", b"", 401),
    ("wecom", "POST", b"<xml><Encrypt>", 401),
    ("wecom", "POST", b"<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>", 401),
    ("wecom", "GET", b"", 401),  # no signature, no echostr
    ("feishu", "POST", b"not json", 400),
    ("feishu", "POST", b"[1, 2]", 400),
    ("feishu", "POST", b'{"type": "url_verification", "challenge": "x"}', 401),  # not encrypted
    ("feishu", "POST", b'{"encrypt": "%%%"}', 401),
    ("feishu", "GET", b"", 400),
    ("hooks", "POST", b"\xff\xfe", 401),  # unsigned
    ("hooks", "PUT", b"{}", 405),
]


@pytest.mark.parametrize(("channel", "method", "body", "status"), CASES)
def test_bad_callbacks_get_the_error_envelope(
    shop: Shop, channel: str, method: str, body: bytes, status: int
) -> None:
    response = httpx.request(method, shop.callback(channel), content=body)
    assert response.status_code == status, response.text
    envelope = response.json()
    assert set(envelope) == {"status", "code", "message"} and envelope["status"] == status
