"""PII: checksums computed here, exact spans and masks, ordinary numbers left alone."""

from __future__ import annotations

from datetime import date

import pytest

from kefu.safety import PiiHit, find_pii, id_card_valid, luhn_valid, mask_pii, mask_value

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_id_check(body: str) -> str:
    """GB 11643: the 18th character from the weighted sum of the first 17 digits."""
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def wrong_id_check(body: str) -> str:
    good = with_id_check(body)[-1]
    return body + next(c for c in "0123456789X" if c != good)


def with_luhn(body: str) -> str:
    """Append the digit that makes ``body`` pass the Luhn check."""
    for check in "0123456789":
        digits = [int(d) for d in reversed(body + check)]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)
        )
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def wrong_luhn(body: str) -> str:
    return body + str((int(with_luhn(body)[-1]) + 1) % 10)


ID = with_id_check("11010519900307123")  # Beijing, born 1990-03-07
ID_X = with_id_check("11010519491231002")  # its check character is X
CARD = with_luhn("622202123456789")  # 16-digit UnionPay


def test_test_helpers_agree_with_the_module() -> None:
    assert ID_X.endswith("X") and id_card_valid(ID_X) and id_card_valid(ID_X.lower())
    assert luhn_valid(CARD) and not luhn_valid(wrong_luhn(CARD[:-1]))
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("我的手机是13812345678，谢谢", "13812345678", "我的手机是138****5678，谢谢"),
        ("电话 +86 138-1234-5678", "+86 138-1234-5678", "电话 +86 138-****-5678"),
        ("call 0086 139 1234 5678 pls", "0086 139 1234 5678", "call 0086 139 **** 5678 pls"),
        ("Tel:19912345678", "19912345678", "Tel:199****5678"),
    ],
)
def test_mobile_numbers(text: str, value: str, masked: str) -> None:
    start = text.index(value)
    assert find_pii(text) == [PiiHit("phone", start, start + len(value), value)]
    assert mask_pii(text) == masked


def test_resident_id_numbers() -> None:
    text = f"身份证号{ID}，另一个{ID_X.lower()}"
    assert find_pii(text) == [
        PiiHit("id_card", 4, 22, ID),
        PiiHit("id_card", 26, 44, ID_X.lower()),
    ]
    assert mask_pii(text) == f"身份证号1101**********{ID[-4:]}，另一个1101**********002x"


def test_every_check_character() -> None:
    bodies = {
        with_id_check(f"44030419851120{n:03d}")[-1]: f"44030419851120{n:03d}" for n in range(200)
    }
    assert sorted(bodies) == sorted("0123456789X")
    for check, body in bodies.items():
        assert [h.value for h in find_pii(f"ID {body}{check}")] == [body + check]
        for other in "0123456789X".replace(check, ""):
            assert all(h.kind != "id_card" for h in find_pii(f"ID {body}{other}"))


@pytest.mark.parametrize(
    "number",
    [
        wrong_id_check("11010519900307123"),  # bad checksum
        with_id_check("11010519900230123"),  # February 30th
        with_id_check("11010519901301123"),  # month 13
        with_id_check(f"110105{date.today().year + 1}0101123"),  # not born yet
        with_id_check("99010519900307123"),  # no such region
    ],
)
def test_invalid_id_numbers_are_not_pii(number: str) -> None:
    assert not id_card_valid(number)
    assert find_pii(f"号码 {number}") == []


def test_bank_cards_plain_and_grouped() -> None:
    grouped = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))
    dashed = grouped.replace(" ", "-")
    text = f"卡号{CARD}，或者 {grouped} 或 {dashed}"
    assert [(h.kind, h.value) for h in find_pii(text)] == [
        ("bank_card", CARD),
        ("bank_card", grouped),
        ("bank_card", dashed),
    ]
    last = CARD[-4:]
    assert mask_pii(text) == (
        f"卡号6222********{last}，或者 6222 **** **** {last} 或 6222-****-****-{last}"
    )
    card19 = with_luhn("621700123456789012")
    assert mask_pii(card19) == f"6217***********{card19[-4:]}"


@pytest.mark.parametrize(
    "text",
    [
        wrong_luhn("622202123456789"),  # Luhn fails
        "9" + CARD,  # inside a longer digit run
        CARD + "8",
        "W" + CARD,  # an id with a prefix
        f"订单号：{CARD}",  # named an order number
        f"order #{CARD}",
        "1234 5678 9012 3456 7890 1234",  # longer grouping
        with_luhn("171234567890"),  # 13 digits starting with 1: a timestamp, not a card
    ],
)
def test_card_like_numbers_that_are_not_cards(text: str) -> None:
    assert [h for h in find_pii(text) if h.kind == "bank_card"] == []


@pytest.mark.parametrize(
    "text",
    [
        "价格 ¥1999.00，优惠 200 元",
        "日期 2024-05-01 12:30:45",
        "订单 W2378156 已发货",
        "编号 12345678",
        "快递单号 SF1234567890",
        "电话 010-12345678",
        "12812345678",  # 12x is not a mobile prefix
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "Order 20240501123456 shipped",
        "qty 3, size 42, 18 items",
    ],
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text) == text


def test_emails() -> None:
    text = "邮箱abc.def@example.com或13812345678@163.com"
    assert find_pii(text) == [
        PiiHit("email", 2, 21, "abc.def@example.com"),
        PiiHit("email", 22, 41, "13812345678@163.com"),  # an e-mail, not a phone
    ]
    assert mask_pii(text) == "邮箱a***@example.com或1***@163.com"


def test_kinds_filter_and_json_values() -> None:
    text = f"13812345678 a@b.cn {ID}"
    assert mask_pii(text, kinds={"phone"}) == f"138****5678 a@b.cn {ID}"
    data = {"query": text, "n": 3, "items": [{"phone": "13812345678"}, ("a@b.cn",)], "ok": None}
    assert mask_value(data) == {
        "query": f"138****5678 a***@b.cn 1101**********{ID[-4:]}",
        "n": 3,
        "items": [{"phone": "138****5678"}, ("a***@b.cn",)],
        "ok": None,
    }
    assert mask_value(data, kinds=iter(["email"]))["items"][0] == {"phone": "13812345678"}
