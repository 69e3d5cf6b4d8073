"""Proactive rules: the app file's ``proactive:`` section (mistakes name the key), what an
event must look like to meet a rule, and the quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kefu.appfile.app_config import parse_app_config
from kefu.appfile.proactive_config import ProactiveRule, QuietHours
from kefu.core.errors import ConfigError, InvalidParam, TooLarge
from kefu.services.proactive_rules import check_properties, event_path, matches

MESSAGE = {"zh": "需要帮忙吗？", "en": "Need help?"}


def rule(**fields: Any) -> ProactiveRule:
    return ProactiveRule.model_validate(
        {"name": "r", "event": "page_view", "message": MESSAGE, **fields}
    )


def app_with(rules: list[dict[str, Any]], **proactive: Any) -> Any:
    return parse_app_config({"name": "shop", "proactive": {"rules": rules, **proactive}})


@pytest.mark.parametrize(
    ("rules", "key", "words"),
    [
        (
            [{"name": "a", "event": "Page View", "message": "x"}],
            "proactive.rules.0.event",
            "pattern",
        ),
        ([{"name": "a", "event": "cart"}], "proactive.rules.0.message", "required"),
        (
            [{"name": "a", "event": "cart", "message": "x", "conditions": {"path_regex": "(["}}],
            "proactive.rules.0.conditions.path_regex",
            "not a regular expression",
        ),
        (
            [{"name": "a", "event": "cart", "message": "x", "conditions": {"min_cnt": 2}}],
            "proactive.rules.0.conditions.min_cnt",
            "Extra inputs",
        ),
        (
            [
                {
                    "name": "a",
                    "event": "cart",
                    "message": "x",
                    "quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "Mars/Base"},
                }
            ],
            "proactive.rules.0.quiet_hours.timezone",
            "unknown time zone",
        ),
        (
            [
                {
                    "name": "a",
                    "event": "cart",
                    "message": "x",
                    "conditions": {"properties": {"total": {}}},
                }
            ],
            "proactive.rules.0.conditions.properties.total",
            "at least one test",
        ),
        (
            [
                {"name": "a", "event": "cart", "message": "x"},
                {"name": "a", "event": "cart", "message": "y"},
            ],
            "proactive.rules",
            "two rules are named 'a'",
        ),
        (
            [{"name": "a", "event": "cart", "message": {"zh": " ", "en": "x"}}],
            "proactive.rules.0.message",
            "zh and en",
        ),
        (
            [{"name": "a", "event": "cart", "message": "x", "cooldown_s": -1}],
            "proactive.rules.0.cooldown_s",
            "greater than",
        ),
    ],
)
def test_mistakes_name_the_key(rules: list[dict[str, Any]], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        app_with(rules)
    assert caught.value.key == key
    assert words in caught.value.reason


def test_a_valid_section_and_yaml_times() -> None:
    config = app_with(
        [{"name": "refund_help", "event": "page_view", "message": "需要帮忙吗？",
          "conditions": {"path_regex": "/refund", "min_count": 2}}],
        quiet_hours={"start": 1320, "end": 480},  # YAML 1.1 reads 22:00 as 1320
    ).proactive  # fmt: skip
    [refund] = config.rules_for("page_view")
    assert refund.message.en == "需要帮忙吗？" and refund.conditions.window_s == 1800
    assert config.quiet_hours_of(refund) == QuietHours(start="22:00", end="08:00")
    assert config.rules_for("cart") == []


def test_path_and_url_conditions() -> None:
    refund = rule(conditions={"path_regex": "/refund"})
    assert matches(refund, "page_view", {"url": "https://shop.example/orders/refund?id=1"})
    assert matches(refund, "page_view", {"path": "/my/refund"})
    assert matches(refund, "page_view", {"url": "https://shop.example/refunds-policy"})  # contains
    assert not matches(refund, "page_view", {"url": "https://shop.example/?next=/refund"})
    assert not matches(refund, "page_view", {})
    assert not matches(refund, "cart", {"path": "/refund"})
    prefixed = rule(conditions={"path_prefix": "/help/", "url_contains": "utm_source=mail"})
    assert matches(prefixed, "page_view", {"url": "https://a.b/help/x?utm_source=mail"})
    assert not matches(prefixed, "page_view", {"url": "https://a.b/help/x"})
    assert not matches(prefixed, "page_view", {"url": "https://a.b/shop/help/?utm_source=mail"})
    assert event_path({"url": "http://[::1"}) is None  # not a URL: no page, no error


def test_property_conditions() -> None:
    cart = rule(
        event="cart",
        conditions={"properties": {
            "total": {"gt": 100, "lte": 1000},
            "currency": {"equals": "CNY"},
            "customer.vip": {"equals": True},
            "coupon": {"exists": False},
            "note": {"contains": "gift"},
            "channel": {"not_equals": "b2b"},
        }},
    )  # fmt: skip
    good = {"total": 300, "currency": "CNY", "customer": {"vip": True}, "note": "a gift"}
    assert matches(cart, "cart", good)
    assert matches(cart, "cart", {**good, "total": "1000"})  # a number sent as text
    for changed in (
        {"total": 100}, {"total": 1000.5}, {"total": "lots"}, {"total": True},
        {"currency": "USD"}, {"customer": {"vip": 1}}, {"customer": "vip"},
        {"coupon": "SAVE5"}, {"note": "for me"}, {"channel": "b2b"},
    ):  # fmt: skip
        assert not matches(cart, "cart", {**good, **changed}), changed
    assert not matches(cart, "cart", {k: v for k, v in good.items() if k != "note"})
    assert matches(
        rule(event="e", conditions={"properties": {"n": {"equals": 2}}}), "e", {"n": 2.0}
    )


def test_what_an_event_may_carry() -> None:
    assert check_properties({"url": "https://a.b/c", "cart": {"items": [{"sku": "x"}]}})
    for bad in (
        {"a": {"b": {"c": {"d": {"e": 1}}}}},  # too deep
        {"k" * 65: 1},
        {"": 1},
        {"tab\tkey": 1},
        {"x": "line\nbreak"},
        {str(n): n for n in range(33)},
        {"n": 2**70},
    ):
        with pytest.raises(InvalidParam):
            check_properties(bad)
    with pytest.raises(TooLarge):
        check_properties({"blob": "x" * 2000, "more": "y" * 2000, "again": "z" * 200})


def test_quiet_hours_across_midnight_and_within_a_day() -> None:
    night = QuietHours(start="22:00", end="08:00", timezone="Asia/Shanghai")
    at = lambda hour, minute=0: datetime(2026, 12, 4, hour, minute, tzinfo=UTC)  # noqa: E731
    assert night.contains(at(14))  # 22:00 Shanghai
    assert night.contains(at(23, 59))  # 07:59
    assert not night.contains(at(0))  # 08:00
    assert not night.contains(at(13, 59))  # 21:59
    lunch = QuietHours(start="12:00", end="13:00", timezone="UTC")
    assert lunch.contains(at(12, 30)) and not lunch.contains(at(13))
    with pytest.raises(ValueError, match="empty"):
        QuietHours(start="08:00", end="08:00")
