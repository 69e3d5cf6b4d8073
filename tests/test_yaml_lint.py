"""Values that YAML cut at a `` #`` are reported when an app file loads."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kefu.appfile.app_config import load_app_config
from kefu.appfile.yaml_lint import find_cut_values
from kefu.services.runtime import demo_app_file

CUT = """\
replies:
  fallback:
    zh: 请提供订单号（以 #W 开头）
    en: "Quoted values keep their #W"
examples:
  - 取消订单 #W1234567
limits:
  max_chars: 500  # a real comment
  other: 12 # also a comment
"""


def test_cut_values_are_found_with_their_line_and_lost_text() -> None:
    found = find_cut_values(CUT)
    assert [(c.line, c.kept, c.lost) for c in found] == [
        (3, "请提供订单号（以", "#W 开头）"),
        (6, "取消订单", "#W1234567"),
    ]
    assert "put the whole value in quotes" in found[0].describe()


def test_real_comments_are_not_reported() -> None:
    assert find_cut_values("a: 1  # note\nb: [x, y] # note\n# whole line\n") == []


def test_loading_an_app_warns_about_a_cut_reply(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = tmp_path / "shop.yaml"
    app.write_text(
        "name: shop\nreplies:\n  fallback:\n    zh: 请稍后再试（或联系 #2 客服）\n    en: Sorry.\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="kefu.appfile.app_config"):
        config = load_app_config(app)
    assert config.replies.fallback.get("zh") == "请稍后再试（或联系"  # what YAML loads
    (record,) = caplog.records
    assert str(app) in record.getMessage() and "line 4" in record.getMessage()


def test_the_demo_app_has_no_cut_values() -> None:
    assert find_cut_values(demo_app_file().read_text(encoding="utf-8")) == []
