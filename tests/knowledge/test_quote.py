"""Extractive answers quote the sentences that answer, not the whole passage."""

from __future__ import annotations

from kefu.knowledge.quote import QUOTE_CHARS, quote

RETURNS_ZH = (
    "七天无理由退货需保持商品完好，吊牌、配件和赠品齐全。"
    "退货申请提交后，请在 7 天内寄回商品，逾期申请自动关闭。"
    "七天无理由退货的运费由买家承担；选择上门取件的，从退款中扣除首重 12 元。"
    "质量问题退货的运费由小铺优选承担。"
    "退款在仓库签收后 1–3 个工作日内原路退回，信用卡和花呗可能再晚 1–2 天入账。"
    "定制商品、贴身衣物和已激活的电子产品不支持无理由退货。"
    "礼品卡退款即时到账，不可提现。"
    "换货请在订单详情选择「换货」，新商品在收到退回商品后 48 小时内发出。"
    "同一订单多件商品可分别申请售后，每件商品单独计算运费。"
    "售后进度可在「我的订单 → 售后记录」查看，也可以联系在线客服查询。"
)
RETURNS_EN = (
    "Items must be unused, with tags, accessories and free gifts. "
    "Ship the item back within 7 days of your request or it closes automatically. "
    "For no-reason returns the customer pays return shipping; a pickup deducts CNY 12. "
    "If the item is defective, we pay the shipping both ways. "
    "Refunds go back to the original payment method within 1-3 business days after "
    "the warehouse signs for the parcel; credit cards may take 1-2 more days. "
    "Custom-made items and activated electronics cannot be returned without a reason."
)


def test_the_passages_are_longer_than_a_quote() -> None:
    assert len(RETURNS_ZH) > QUOTE_CHARS and len(RETURNS_EN) > QUOTE_CHARS


def test_the_sentence_that_answers_is_quoted() -> None:
    answer = quote("退款多久到账", RETURNS_ZH)
    assert "退款在仓库签收后 1–3 个工作日内原路退回" in answer
    assert "吊牌" not in answer and "换货" not in answer and len(answer) <= QUOTE_CHARS


def test_english_quote_keeps_spaces_between_sentences() -> None:
    answer = quote("how long does a refund take", RETURNS_EN)
    assert answer.startswith("Refunds go back to the original payment method")
    assert "tags" not in answer and "  " not in answer


def test_sentences_nearly_as_good_come_along_in_order() -> None:
    answer = quote("退货运费谁承担", RETURNS_ZH)
    first = answer.index("七天无理由退货的运费由买家承担")
    assert first < answer.index("质量问题退货的运费由小铺优选承担")
    assert "礼品卡" not in answer


def test_a_short_passage_is_quoted_whole() -> None:
    assert quote("运费", "退货运费 12 元。") == "退货运费 12 元。"


def test_no_shared_word_gives_the_opening_sentences() -> None:
    answer = quote("量子纠缠", RETURNS_ZH)
    assert RETURNS_ZH.startswith(answer) and len(answer) <= QUOTE_CHARS
