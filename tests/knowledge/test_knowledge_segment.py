"""The one-pass segmenter cuts exactly as jieba's ``lcut(HMM=False)`` does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kefu.knowledge import tokenizer

# Characters of common shop words, so random runs contain dictionary words of every length.
ALPHABET = "订单多久发货退款到账运费险无理由换货会员积分优惠券发票地址修改手机号客服人工的了吗呢我"
ALPHABET += "\u3400\u4dbf\uf900"  # outside jieba's Han blocks: single characters, blocks apart


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=40))
def test_segment_matches_jieba(run: str) -> None:
    segmenter = tokenizer.jieba_tokenizer()
    assert tokenizer._segment(segmenter, run) == segmenter.lcut(run, HMM=False)


def test_a_character_outside_jiebas_blocks_splits_the_route() -> None:
    """jieba routes "款款款" apart from what follows "㐀"; one route across it rounded a tie
    between "款款|款" and "款|款款" the other way (found by the test above)."""
    segmenter = tokenizer.jieba_tokenizer()
    for run in ("款款款㐀单", "款款款\uf900单", "㐀款款款", "单㐀㐀款款款"):
        assert tokenizer._segment(segmenter, run) == segmenter.lcut(run, HMM=False), run


def test_segment_on_a_real_sentence() -> None:
    segmenter = tokenizer.jieba_tokenizer()
    run = "签收后七天内可以申请无理由退货运费由买家承担"
    assert tokenizer._segment(segmenter, run) == segmenter.lcut(run, HMM=False)
    assert "无理由" in tokenizer._segment(segmenter, run)  # the domain words still apply
