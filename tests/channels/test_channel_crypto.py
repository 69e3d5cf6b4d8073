"""The platforms' callback cryptography against their published test vectors."""

from __future__ import annotations

import pytest

from kefu.channels.feishu import crypto as feishu
from kefu.channels.wecom_kf.crypto import WeComCrypto, WeComCryptoError

# 企业微信 "加解密方案说明" (https://developer.work.weixin.qq.com/document/path/90968) and
# Tencent's WXBizMsgCrypt sample code (Sample.py / Sample.cpp: sToken "QDG6eK",
# sEncodingAESKey "jWmYm7qr…", sCorpID "wx5823bf96d3bd56c7").
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
# 验证回调URL: GET /cgi-bin/wxpush?msg_signature=5c45ff5e…&timestamp=1409659589
#   &nonce=263014780&echostr=P9nAzCzy… (Sample.py, 使用示例一)
VERIFY = (
    "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "1409659589",
    "263014780",
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
)
# 解密: POST /cgi-bin/wxpush?msg_signature=477715d1…&timestamp=1409659813&nonce=1372623149
POST_QUERY = ("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149")
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdC"
    "Upj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4X"
    "gpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+K"
    "qCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XX"
    "ZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHB"
    "ZZIs2pDBS8R07+qN+E7Q=="
)
POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    f"<Encrypt><![CDATA[{POST_ENCRYPT}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
).encode()


@pytest.fixture
def wecom() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_wecom_url_check_vector(wecom: WeComCrypto) -> None:
    assert wecom.verify_url(*VERIFY) == "1616140317555161061"


def test_wecom_message_vector(wecom: WeComCrypto) -> None:
    assert wecom.signature(POST_QUERY[1], POST_QUERY[2], POST_ENCRYPT) == POST_QUERY[0]
    message = wecom.decrypt_callback(*POST_QUERY, POST_BODY)
    assert "<Content><![CDATA[hello]]></Content>" in message
    assert "<MsgId>4561255354251345929</MsgId>" in message


def test_wecom_refuses_a_wrong_signature_key_or_corp(wecom: WeComCrypto) -> None:
    with pytest.raises(WeComCryptoError, match="msg_signature"):
        wecom.decrypt_callback("0" * 40, POST_QUERY[1], POST_QUERY[2], POST_BODY)
    with pytest.raises(WeComCryptoError, match="msg_signature"):  # a replayed, re-timed copy
        wecom.decrypt_callback(POST_QUERY[0], "1409659814", POST_QUERY[2], POST_BODY)
    other_corp = WeComCrypto(TOKEN, AES_KEY, "ww0000000000000000")
    with pytest.raises(WeComCryptoError, match="corp id"):
        other_corp.decrypt(POST_ENCRYPT)
    other_key = WeComCrypto(TOKEN, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", CORP_ID)
    with pytest.raises(WeComCryptoError):
        other_key.decrypt(POST_ENCRYPT)
    with pytest.raises(WeComCryptoError, match="43 characters"):
        WeComCrypto(TOKEN, "too-short", CORP_ID)
    with pytest.raises(WeComCryptoError, match="XML"):
        wecom.decrypt_callback(*POST_QUERY, b"<xml><Encrypt>")


def test_wecom_round_trip_pads_to_32_bytes(wecom: WeComCrypto) -> None:
    for text in ("", "a", "退货" * 40, "x" * 12):  # 16 + 4 + 12 + 18 = 50 bytes → 64
        encrypted = wecom.encrypt(text)
        assert wecom.decrypt(encrypted) == text


# 飞书开放平台 "Encrypt Key" example: encrypt_key "test key" decrypts this to "hello world"
# (event-subscription-guide/event-subscription-configure-/request-url-configuration-case).
def test_feishu_vector() -> None:
    assert feishu.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == (
        "hello world"
    )
    with pytest.raises(feishu.FeishuCryptoError):
        feishu.decrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
    with pytest.raises(feishu.FeishuCryptoError):
        feishu.decrypt("test key", "AAAA")


def test_feishu_round_trip_and_signature() -> None:
    assert feishu.decrypt("k", feishu.encrypt("k", '{"a": "退货"}')) == '{"a": "退货"}'
    signature = feishu.signature("1700000000", "n1", "k", b'{"encrypt":"x"}')
    feishu.check_signature("1700000000", "n1", "k", b'{"encrypt":"x"}', signature)
    with pytest.raises(feishu.FeishuCryptoError):
        feishu.check_signature("1700000001", "n1", "k", b'{"encrypt":"x"}', signature)
