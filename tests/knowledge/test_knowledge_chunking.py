from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.core.errors import ConfigError
from kefu.core.types import Chunk, ChunkDraft, ParsedDocument
from kefu.knowledge import split_document, split_sentences

POLICY = """# 退货政策

本政策适用于所有实物商品。

## 运费规则

质量问题由我们承担运费。无理由退货的运费由买家承担。购买运费险的可以理赔。

```
# 代码块里的井号不是标题
```

### 细则
换货运费我们承担一次。

# Shipping

Orders ship within 48 hours. Remote areas take longer!
"""


def markdown(text: str) -> ParsedDocument:
    return ParsedDocument(name="doc", content=text, metadata={"format": "markdown"})


def test_chunks_follow_heading_paths_and_never_span_sections() -> None:
    chunks = split_document(markdown(POLICY), chunk_size=400, overlap=40)
    assert [(c.position, c.heading) for c in chunks] == [
        (0, "退货政策"),
        (1, "退货政策 > 运费规则"),
        (2, "退货政策 > 运费规则 > 细则"),
        (3, "Shipping"),
    ]
    assert chunks[0].content == "本政策适用于所有实物商品。"
    assert chunks[1].content == (
        "质量问题由我们承担运费。无理由退货的运费由买家承担。购买运费险的可以理赔。\n\n"
        "```\n# 代码块里的井号不是标题\n```"
    )
    assert chunks[3].content == "Orders ship within 48 hours. Remote areas take longer!"


def test_text_before_the_first_heading_has_no_heading() -> None:
    chunks = split_document(markdown("开场白。\n\n## 标题\n正文。"))
    assert [(c.heading, c.content) for c in chunks] == [("", "开场白。"), ("标题", "正文。")]


def test_plain_text_has_no_headings() -> None:
    doc = ParsedDocument("t", "# 不是标题\n\n第二段。", {"format": "text"})
    assert split_document(doc) == [ChunkDraft(0, "# 不是标题\n\n第二段。", "")]


@pytest.mark.parametrize("content", ["", "   \n\n  ", "# 只有标题\n\n## 还是标题\n"])
def test_documents_without_text_give_no_chunks(content: str) -> None:
    assert split_document(markdown(content)) == []


def test_split_sentences_handles_both_languages() -> None:
    text = "退货需在7天内申请。运费由买家承担！Price is 3.5 dollars. See kefu.ai? Yes; ok\n- a\n- b"
    assert split_sentences(text) == [
        "退货需在7天内申请。",
        "运费由买家承担！",
        "Price is 3.5 dollars. ",
        "See kefu.ai? ",
        "Yes; ",
        "ok\n",
        "- a\n",
        "- b",
    ]
    assert "".join(split_sentences(text)) == text


def test_chunks_end_at_sentence_boundaries_and_overlap_by_sentences() -> None:
    sentences = [f"第{i}条规则写在这里。" for i in range(1, 13)]  # 9-10 characters each
    chunks = split_document(markdown("".join(sentences)), chunk_size=50, overlap=12)
    assert len(chunks) > 2
    for previous, chunk in itertools.pairwise(chunks):
        last_sentence = split_sentences(previous.content)[-1]
        assert chunk.content.startswith(last_sentence)  # one sentence (≤ 12 chars) repeats
        assert not chunk.content.startswith(split_sentences(previous.content)[-2])
    for chunk in chunks:
        assert len(chunk.content) <= 50
        assert chunk.content.endswith("。")
        assert all(sentence in sentences for sentence in split_sentences(chunk.content))
    assert chunks[0].content == "".join(sentences[:5])
    assert chunks[1].content == "".join(sentences[4:9])


def test_no_overlap_when_the_last_sentence_is_longer_than_overlap() -> None:
    text = "这是第一句比较长的句子内容。这是第二句比较长的句子内容。这是第三句。"
    chunks = split_document(markdown(text), chunk_size=30, overlap=5)
    assert [c.content for c in chunks] == [
        "这是第一句比较长的句子内容。这是第二句比较长的句子内容。",
        "这是第三句。",
    ]


def test_overlap_never_crosses_sections() -> None:
    text = "## A\n" + "甲句子在这里。" * 3 + "\n## B\n乙句子。"
    chunks = split_document(markdown(text), chunk_size=14, overlap=10)
    assert [(c.heading, c.content) for c in chunks] == [
        ("A", "甲句子在这里。甲句子在这里。"),
        ("A", "甲句子在这里。甲句子在这里。"),
        ("B", "乙句子。"),
    ]


def test_whole_paragraphs_are_kept_together_when_they_fit() -> None:
    first, second = "第一段第一句。第一段第二句。", "第二段第一句。第二段第二句。"
    chunks = split_document(markdown(f"{first}\n\n{second}"), chunk_size=20, overlap=0)
    assert [c.content for c in chunks] == [first, second]  # not 第一段… + 第二段第一句。


def test_a_sentence_longer_than_the_chunk_is_hard_split() -> None:
    long_sentence = "很长的句子，" * 30 + "结束。"
    text = f"前一句。{long_sentence}后一句。"
    chunks = split_document(markdown(text), chunk_size=50, overlap=10)
    assert all(len(c.content) <= 50 for c in chunks)
    assert chunks[0].content == "前一句。"
    assert (
        "".join(c.content for c in chunks[1:-1]) + chunks[-1].content.removesuffix("后一句。")
        == long_sentence
    )
    assert chunks[1].content.endswith("，")  # cut after a comma, not mid-word


def test_chunk_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"knowledge\.chunk_overlap"):
        split_document(markdown("文本。"), chunk_size=50, overlap=50)
    with pytest.raises(ConfigError, match=r"knowledge\.chunk_size"):
        split_document(markdown("文本。"), chunk_size=0, overlap=0)


def test_fixture_policy_chunks(shop_chunks: list[Chunk]) -> None:
    policy = [c for c in shop_chunks if c.document_id == "return_policy"]
    assert [c.heading for c in policy] == [
        "退货政策",
        "退货政策 > 七天无理由退货",
        "退货政策 > 运费规则",
        "退货政策 > 退款",
    ]
    assert [c.position for c in shop_chunks if c.document_id == "shipping"] == [0, 1, 2]


sentence = st.from_regex(r"[a-z退货运费规则 ]{1,30}[。.!？]", fullmatch=True)


@given(st.lists(st.lists(sentence, min_size=1, max_size=6), min_size=1, max_size=6))
def test_packing_keeps_every_sentence_and_respects_the_size(paragraphs: list[list[str]]) -> None:
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    chunks = split_document(markdown(text), chunk_size=60, overlap=15)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.content) <= 60 for c in chunks)
    joined = "\n".join(c.content for c in chunks)
    for paragraph in paragraphs:
        for part in paragraph:
            if part.strip() and len(part.strip()) <= 60:
                assert part.strip() in joined


def test_chinese_sentence_punctuation_ends_sentences() -> None:
    text = "能退吗？可以！但要快；否则……就晚了。“好的。”她说"
    assert split_sentences(text) == [
        *("能退吗？", "可以！", "但要快；", "否则……", "就晚了。", "“好的。”", "她说")
    ]


def test_long_chinese_text_is_chunked_at_chinese_sentence_ends() -> None:
    sentences = [
        "退货需在签收后七天内申请。",
        "运费由买家承担！",
        "可以换货吗？",
        "可以；",
        "但只限一次……",
    ]
    chunks = split_document(markdown("".join(sentences * 4)), chunk_size=40, overlap=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.content) <= 40
        assert chunk.content.endswith(("。", "！", "？", "；", "…"))
