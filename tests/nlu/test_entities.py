"""Entity extraction: typed values and exact spans, zh and en, overlaps, non-matches, speed."""

from __future__ import annotations

import datetime
import time
import timeit
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.core.errors import ConfigError
from kefu.nlu.entities import DateRange, Entity, EntityExtractor, Money

TODAY = datetime.date(2026, 11, 21)  # a Saturday
D = datetime.date
SHOP = EntityExtractor(order_id_patterns=[r"#?W\d{7}"])
DEFAULT = EntityExtractor()


def values(text: str, kind: str, extractor: EntityExtractor = SHOP) -> list[object]:
    return [e.value for e in extractor.extract(text, today=TODAY) if e.type == kind]


def only(text: str, extractor: EntityExtractor = SHOP) -> Entity:
    (entity,) = extractor.extract(text, today=TODAY)
    assert text[entity.start : entity.end] == entity.text
    return entity


# --- order ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "surface"),
    [
        ("订单号是W2378156", "W2378156"),
        ("order #W2378156 hasn't arrived", "#W2378156"),
        ("my order w2378156", "w2378156"),
        ("单号：＃Ｗ２３７８１５６", "＃Ｗ２３７８１５６"),  # full width
    ],
)
def test_order_id_with_app_pattern_is_normalised(text: str, surface: str) -> None:
    entity = only(text)
    assert (entity.type, entity.text, entity.value) == ("order_id", surface, "#W2378156")


def test_order_id_needs_its_own_boundaries() -> None:
    assert values("W23781567", "order_id") == []  # one digit too many
    assert values("AW2378156", "order_id") == []
    assert values("W2378156与W7654321", "order_id") == ["#W2378156", "#W7654321"]


def test_pattern_without_hash_keeps_none() -> None:
    shop = EntityExtractor(order_id_patterns=[r"SO-\d{6}"])
    assert values("单号so-123456", "order_id", shop) == ["SO-123456"]


def test_default_order_ids() -> None:
    assert values("订单W2378156到了吗", "order_id", DEFAULT) == ["W2378156"]
    assert values("查一下 #ab12345678", "order_id", DEFAULT) == ["AB12345678"]
    # a marketplace's all-digit number is an order id after a cue, not a phone or amount
    assert values("订单号：1234567890123456789", "order_id", DEFAULT) == ["1234567890123456789"]
    assert [e.type for e in DEFAULT.extract("订单号13812345678")] == ["order_id"]
    assert values("my order number is 2024112100042", "order_id", DEFAULT) == ["2024112100042"]
    assert values("加我qq12345678", "order_id", DEFAULT) == []  # a QQ number
    assert values("型号A1234", "order_id", DEFAULT) == []  # too short


def test_invalid_pattern_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"order_id_patterns.*W\(\\d\{7\}.*position 1"):
        EntityExtractor(order_id_patterns=[r"W(\d{7}"])


# --- phones, e-mail, postcodes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "手机13812345678",
        "电话 138 1234 5678",
        "call 138-1234-5678 please",
        "+86 13812345678",
        "+86-138-1234-5678",
        "8613812345678",
        "我的号码是１３８１２３４５６７８",
    ],
)
def test_mainland_mobile_normalised_to_11_digits(text: str) -> None:
    entity = only(text)
    assert (entity.type, entity.value) == ("phone", "13812345678")


@pytest.mark.parametrize(
    "text",
    [
        "卡号6222021381234567890",  # inside a bank card
        "12138123456789",  # inside a longer run
        "W13812345678",  # inside a code
        "12812345678",  # 2nd digit 2 is no mobile prefix
        "1381234567",  # ten digits
    ],
)
def test_not_a_phone(text: str) -> None:
    assert values(text, "phone") == []


def test_email_lower_cased() -> None:
    entity = only("邮箱是 Foo.Bar+kefu@Example.COM，谢谢")
    assert (entity.type, entity.text, entity.value) == (
        "email",
        "Foo.Bar+kefu@Example.COM",
        "foo.bar+kefu@example.com",
    )
    assert values("write to a@b or @home", "email") == []


def test_email_containing_an_order_like_code_is_one_email() -> None:
    assert [e.type for e in SHOP.extract("w2378156@qq.com")] == ["email"]


def test_postcode_after_a_cue() -> None:
    assert values("邮编100000", "zip") == ["100000"]
    assert values("zip code: 94105-1234", "zip") == ["94105-1234"]
    assert values("我有100000个问题", "zip") == []


# --- dates -----------------------------------------------------------------------------------

WEEK_BEFORE = DateRange(D(2026, 11, 9), D(2026, 11, 15))
THIS_WEEK = DateRange(D(2026, 11, 16), D(2026, 11, 22))
NEXT_WEEK = DateRange(D(2026, 11, 23), D(2026, 11, 29))
OCTOBER = DateRange(D(2026, 10, 1), D(2026, 10, 31))
NOVEMBER = DateRange(D(2026, 11, 1), D(2026, 11, 30))
DECEMBER = DateRange(D(2026, 12, 1), D(2026, 12, 31))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("今天", D(2026, 11, 21)),
        ("昨天下的单", D(2026, 11, 20)),
        ("前天", D(2026, 11, 19)),
        ("明天能到吗", D(2026, 11, 22)),
        ("后天", D(2026, 11, 23)),
        ("上周", WEEK_BEFORE),
        ("上星期", WEEK_BEFORE),
        ("本周", THIS_WEEK),
        ("这周", THIS_WEEK),
        ("下周", NEXT_WEEK),
        ("上个月", OCTOBER),
        ("这个月", NOVEMBER),
        ("本月", NOVEMBER),
        ("下个月", DECEMBER),
        ("去年", DateRange(D(2025, 1, 1), D(2025, 12, 31))),
        ("今年", DateRange(D(2026, 1, 1), D(2026, 12, 31))),
        ("3月5日", D(2026, 3, 5)),
        ("3月5号", D(2026, 3, 5)),
        ("2024年3月5日", D(2024, 3, 5)),
        ("2024-03-05", D(2024, 3, 5)),
        ("2024/3/5", D(2024, 3, 5)),
        ("5号", D(2026, 11, 5)),
        ("上周三", D(2026, 11, 11)),
        ("周五", D(2026, 11, 20)),
        ("星期日", D(2026, 11, 22)),
        ("下礼拜一", D(2026, 11, 23)),
        ("三天前", D(2026, 11, 18)),
        ("3天前", D(2026, 11, 18)),
        ("两周前", D(2026, 11, 7)),
        ("十五天前", D(2026, 11, 6)),
        ("一个星期前", D(2026, 11, 14)),
        ("3个月前", D(2026, 8, 21)),
        ("十一月二十一号", D(2026, 11, 21)),
        ("二〇二四年三月五日", D(2024, 3, 5)),
        ("去年3月", DateRange(D(2025, 3, 1), D(2025, 3, 31))),
        ("周末", DateRange(D(2026, 11, 21), D(2026, 11, 22))),
    ],
)
def test_chinese_dates(text: str, value: object) -> None:
    entity = only(text)
    assert entity.type == "date"
    assert entity.value == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("today", D(2026, 11, 21)),
        ("Yesterday", D(2026, 11, 20)),
        ("tomorrow", D(2026, 11, 22)),
        ("the day before yesterday", D(2026, 11, 19)),
        ("last week", WEEK_BEFORE),
        ("this week", THIS_WEEK),
        ("next week", NEXT_WEEK),
        ("last month", OCTOBER),
        ("this month", NOVEMBER),
        ("last Monday", D(2026, 11, 16)),
        ("on Friday", D(2026, 11, 20)),
        ("next Monday", D(2026, 11, 23)),
        ("March 5", D(2026, 3, 5)),
        ("5 March 2024", D(2024, 3, 5)),
        ("Mar 5th", D(2026, 3, 5)),
        ("the 5th of March", D(2026, 3, 5)),
        ("Dec 31, 2025", D(2025, 12, 31)),
        ("2024-03-05", D(2024, 3, 5)),
        ("3 days ago", D(2026, 11, 18)),
        ("2 weeks ago", D(2026, 11, 7)),
        ("a week ago", D(2026, 11, 14)),
        ("in 3 days", D(2026, 11, 24)),
    ],
)
def test_english_dates(text: str, value: object) -> None:
    (entity,) = [e for e in SHOP.extract(text, today=TODAY) if e.type == "date"]
    assert entity.value == value


def test_dates_inside_sentences_keep_their_offsets() -> None:
    text = "我上周三下的单，说好3天内发货"
    (entity,) = SHOP.extract(text, today=TODAY)
    assert (entity.text, entity.start, entity.end) == ("上周三", 1, 4)
    english = SHOP.extract("I ordered it 3 days ago and paid $25", today=TODAY)
    assert [(e.type, e.text) for e in english] == [("date", "3 days ago"), ("amount", "$25")]


@pytest.mark.parametrize(
    "text",
    [
        "3号楼",
        "地铁2号线",
        "7日无理由退货",
        "15日内发货",
        "2月30日",
        "13月1日",
        "三个月",
        "May I ask",
    ],
)
def test_not_dates(text: str) -> None:
    assert values(text, "date") == []


def test_today_defaults_to_the_real_date() -> None:
    (entity,) = SHOP.extract("今天")
    assert entity.value == datetime.date.today()


# --- amounts ---------------------------------------------------------------------------------


def cny(amount: str) -> Money:
    return Money(Decimal(amount), "CNY")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("¥199", cny("199")),
        ("￥199", cny("199")),
        ("199元", cny("199")),
        ("199块", cny("199")),
        ("199.5元", cny("199.5")),
        ("一百九十九元", cny("199")),
        ("两千块", cny("2000")),
        ("三块钱", cny("3")),
        ("三块五", cny("3.5")),
        ("五毛钱", cny("0.5")),
        ("1.5万元", cny("15000")),
        ("1,299 RMB", cny("1299")),
        ("人民币300", cny("300")),
        ("$25", Money(Decimal(25), "USD")),
        ("25 dollars", Money(Decimal(25), "USD")),
        ("USD 25", Money(Decimal(25), "USD")),
        ("30美元", Money(Decimal(30), "USD")),
        ("30美金", Money(Decimal(30), "USD")),
        ("€10", Money(Decimal(10), "EUR")),
        ("10 euros", Money(Decimal(10), "EUR")),
        ("HK$50", Money(Decimal(50), "HKD")),
        ("50港币", Money(Decimal(50), "HKD")),
        ("50港元", Money(Decimal(50), "HKD")),
        ("£5", Money(Decimal(5), "GBP")),
        ("1000日元", Money(Decimal(1000), "JPY")),
    ],
)
def test_amounts(text: str, value: Money) -> None:
    entity = only(text)
    assert (entity.type, entity.text) == ("amount", text)
    assert entity.value == value


@pytest.mark.parametrize(
    "text",
    [
        "打8折",
        "50%",
        "优惠了30%",
        "64GB",
        "买了三块肥皂",
        "画个三角形",
        "万元户",
        "5 pounds",
        "199",
    ],
)
def test_not_amounts(text: str) -> None:
    assert values(text, "amount") == []


def test_order_and_phone_digits_are_not_amounts() -> None:
    found = SHOP.extract("订单W2378156付了199元，电话13812345678", today=TODAY)
    assert [(e.type, e.value) for e in found] == [
        ("order_id", "#W2378156"),
        ("amount", cny("199")),
        ("phone", "13812345678"),
    ]
    assert values("W2378156元", "amount") == []


# --- the whole extractor ---------------------------------------------------------------------


def test_mixed_message_sorted_without_overlaps() -> None:
    text = "你好，订单号是W2378156，上个月28号付了¥1,299，手机138-1234-5678，邮箱 a@b.cn"
    found = SHOP.extract(text, today=TODAY)
    assert [(e.type, e.text) for e in found] == [
        ("order_id", "W2378156"),
        ("date", "上个月"),
        ("date", "28号"),
        ("amount", "¥1,299"),
        ("phone", "138-1234-5678"),
        ("email", "a@b.cn"),
    ]
    assert all(a.end <= b.start for a, b in pairwise(found))
    assert all(text[e.start : e.end] == e.text for e in found)


def test_types_restrict_the_search() -> None:
    extractor = EntityExtractor(types=["phone"])
    assert [e.type for e in extractor.extract("13812345678 明天 ¥5", today=TODAY)] == ["phone"]
    with pytest.raises(ValueError, match="colour"):
        EntityExtractor(types=["colour"])


def test_empty_and_plain_text() -> None:
    assert SHOP.extract("", today=TODAY) == []
    assert SHOP.extract("怎么退货", today=TODAY) == []
    assert SHOP.extract("How do I return this?", today=TODAY) == []


@pytest.mark.parametrize(
    "text",
    [
        "a" * 10_000 + "@",
        "1" * 10_000,
        "a@" + "b." * 5_000,
        "订单号" * 3_000 + "W",
        ("3月5日 ¥199 13812345678 last week " * 300)[:10_000],
        "1," * 5_000 + "元",
    ],
)
def test_long_text_has_no_pathological_slowness(text: str) -> None:
    """A guard against catastrophic regex backtracking, which takes minutes on these texts,
    not a speed target: the bound is generous so a busy machine does not fail it (it did at
    0.5 s under a load average of 9; the slowest text takes ~130 ms at a load of 3)."""
    started = time.perf_counter()
    SHOP.extract(text, today=TODAY)
    DEFAULT.extract(text, today=TODAY)
    assert time.perf_counter() - started < 5.0


def test_fast_enough_for_every_message() -> None:
    plain = "你好，请问这个怎么退货呢，谢谢你们"
    busy = "订单W2378156昨天付了199元怎么还没发货"
    for text, budget in ((plain, 0.0001), (busy, 0.0005)):
        per_call = min(
            timeit.repeat(lambda t=text: SHOP.extract(t, today=TODAY), number=200, repeat=3)
        )
        assert per_call / 200 < budget * 10  # the target, with room for slow CI machines


def test_entities_written_without_spaces_between_them() -> None:
    found = SHOP.extract("订单W2378156昨天付了199元", today=TODAY)
    assert [(e.type, e.text) for e in found] == [
        ("order_id", "W2378156"),
        ("date", "昨天"),
        ("amount", "199元"),
    ]


@given(
    st.text(
        alphabet="0123456789１２ ,.-/+#@$¥€元块号日月年周天前上个两三十百万Ww订单号：rmbago",
        max_size=40,
    )
)
def test_any_text_gives_consistent_spans(text: str) -> None:
    found = DEFAULT.extract(text, today=TODAY) + SHOP.extract(text, today=TODAY)
    assert all(text[e.start : e.end] == e.text and e.start < e.end for e in found)
    for extractor in (DEFAULT, SHOP):
        spans = extractor.extract(text, today=TODAY)
        assert all(a.end <= b.start for a, b in pairwise(spans))


@pytest.mark.parametrize("text", ["١٢٣٤-٠٣-٠٥", "我的订单 ٢٠٢٤-٠٣-٠٥ 到的", "٣天前"])
def test_other_scripts_digits_are_not_dates(text: str) -> None:
    # The word prefilter lets "-" and 天前 through; only ASCII digits make a date.
    assert values(text, "date") == []


def test_other_scripts_digits_are_not_dates_beside_a_real_one() -> None:
    assert values("今天 ١٢٣٤-٠٣-٠٥ 到的", "date") == [TODAY]
