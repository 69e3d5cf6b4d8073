"""An app's understanding layer at run time: intent classifier, entity extractor, sentiment.

The classifier is trained when the app loads, from the example utterances in its YAML;
predictions are cached per question (customers repeat themselves), entities and sentiment
are computed per message (they are cheap, and dates depend on the day).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from kefu.appfile.app_config import AppConfig
from kefu.core.caches import Cache, CacheFactory, in_memory
from kefu.knowledge import tokenize
from kefu.nlu.dialog_acts import DialogAct, detect_act, wants_human
from kefu.nlu.entities import ENTITY_TYPES, Entity, EntityExtractor
from kefu.nlu.escalation import Escalation, detect_escalation
from kefu.nlu.intent import OUT_OF_SCOPE, IntentClassifier, IntentExample, IntentPrediction
from kefu.nlu.intent.child import train_in_child
from kefu.nlu.sentiment import Sentiment, analyze_sentiment

__all__ = ["AppUnderstanding", "Understood"]

log = logging.getLogger(__name__)
INTENT_CACHE_SIZE = 4096
MASKED_ENTITIES = frozenset({"phone", "email"})  # shown by type only in traces
# Share of a question's words that an intent's examples must contain for the intent to
# count: a classifier trained on a few dozen examples is sure of itself on anything
# ("量子纠缠怎么解释" → shipping.when, 0.74); a question that shares no word with any example
# of the intent is not that intent.
MIN_SUPPORT = 0.3
# The placeholders with_placeholders() writes: which order is named says nothing about the
# intent, so "order_id" is no word of support ("W2378156 这个单子的发票抬头能改吗" is not a
# cancellation because one cancellation example names an order).
_PLACEHOLDER = re.compile(r"\b(?:" + "|".join(ENTITY_TYPES) + r")\b")


@dataclass(frozen=True, slots=True)
class Understood:
    """What the understanding layer found in one message (cached per text and day, so
    everything here is worked out once: the dialog act and the trace's view too)."""

    intent: IntentPrediction | None
    entities: tuple[Entity, ...]
    sentiment: Sentiment
    act: DialogAct | None = None  # yes / no / cancel
    wants_human: bool = False  # 转人工, "talk to a human"
    escalation: Escalation | None = None  # a legal threat, safety incident, fraud, complaint
    _records: dict[bool, dict[str, Any]] = field(default_factory=dict, compare=False)

    def record(self, *, mask: bool) -> dict[str, Any]:
        """The trace's view: intent ranking with confidences, entities, sentiment."""
        cached = self._records.get(mask)
        if cached is None:
            cached = self._records[mask] = self._record(mask)
        return cached

    def _record(self, mask: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "sentiment": {
                "label": self.sentiment.label,
                "score": round(self.sentiment.score, 3),
                "cues": list(self.sentiment.cues),
            }
        }
        if self.intent is not None:
            data["intent"] = {
                "label": self.intent.label,
                "confidence": round(self.intent.confidence, 4),
                "ranking": [
                    {"label": label, "confidence": round(score, 4)}
                    for label, score in self.intent.ranking[:3]
                ],
            }
        if self.entities:
            data["entities"] = [
                {
                    "type": e.type,
                    "text": "***" if mask and e.type in MASKED_ENTITIES else e.text,
                    "start": e.start,
                    "end": e.end,
                }
                for e in self.entities
            ]
        return data


class AppUnderstanding:
    """Built once per app load; safe to call from the event loop (pure CPU, short)."""

    def __init__(
        self,
        classifier: IntentClassifier | None,
        extractor: EntityExtractor,
        cache_size: int = INTENT_CACHE_SIZE,
        support: IntentSupport | None = None,
        caches: CacheFactory = in_memory,
        namespace: str = "",
    ) -> None:
        """``caches`` makes the per-text caches under ``namespace``, which must change
        whenever what the classifier learnt from does (the app's id and training data)."""
        self.classifier = classifier
        self.extractor = extractor
        self.support = support
        self._intents: Cache[str, IntentPrediction] = caches(f"{namespace}:intent", cache_size)
        self._understood: Cache[tuple[str, dt.date], Understood] = caches(
            f"{namespace}:understood", cache_size
        )

    @classmethod
    def build(
        cls,
        config: AppConfig,
        faq_questions: Sequence[str] = (),
        *,
        in_subprocess: bool = False,
        caches: CacheFactory = in_memory,
        namespace: str = "",
    ) -> AppUnderstanding:
        """Train the intent classifier from the app's examples (none: no classifier).

        A handful of intents alone would claim every question with confidence; the FAQ's
        questions, trained as out of scope, teach the classifier where the intents end.
        """
        classifier = None
        extractor = EntityExtractor(order_id_patterns=config.nlu.order_id_patterns)
        intents = {
            label: [with_placeholders(text, extractor.extract(text)) for text in texts]
            for label, texts in config.intents.items()
        }
        examples = [
            IntentExample(text, label) for label, texts in intents.items() for text in texts
        ]
        if examples and config.nlu.faq_out_of_scope:
            known = {example.text for example in examples}
            examples += [
                IntentExample(
                    with_placeholders(question, extractor.extract(question)), OUT_OF_SCOPE
                )
                for question in dict.fromkeys(faq_questions)
                if question not in known
            ]
        if examples:
            started = time.perf_counter()
            if in_subprocess:
                classifier = train_in_child(examples, config.nlu.intent)
            else:
                classifier = IntentClassifier.train(examples, config.nlu.intent)
            log.info(
                "app %s: intent classifier trained on %d examples in %.2f s (%s)",
                config.name,
                len(examples),
                time.perf_counter() - started,
                ", ".join(classifier.features),
            )
        support = IntentSupport(intents) if intents else None
        training = orjson.dumps(
            [config.model_dump(mode="json", include={"intents", "nlu"}), list(faq_questions)]
        )
        namespace = f"{namespace}:{hashlib.sha256(training).hexdigest()[:16]}"
        return cls(classifier, extractor, support=support, caches=caches, namespace=namespace)

    def intent(self, text: str) -> IntentPrediction | None:
        if self.classifier is None:
            return None
        cached = self._intents.get(text)
        if cached is None:
            prediction = self.classifier.predict(text)
            if (
                prediction.label is not None
                and self.support is not None
                and self.support.coverage(prediction.label, text) < MIN_SUPPORT
            ):
                prediction = replace(prediction, label=None)
            cached = self._intents.put(text, prediction)
        return cached

    def understand(self, text: str, today: dt.date | None = None) -> Understood:
        """Cached per text and day (relative dates such as 上个月 depend on the day)."""
        day = today or dt.date.today()
        key = (text, day)
        cached = self._understood.get(key)
        if cached is None:
            entities = self.extractor.extract(text, today=day)
            cached = self._understood.put(
                key,
                Understood(
                    intent=self.intent(with_placeholders(text, entities)),
                    entities=tuple(entities),
                    sentiment=analyze_sentiment(text),
                    act=detect_act(text),
                    wants_human=wants_human(text),
                    escalation=detect_escalation(text),
                ),
            )
        return cached


def with_placeholders(text: str, entities: Sequence[Entity]) -> str:
    """The text with each entity replaced by its type ("查订单 #W2378156" → "查订单 order_id"):
    which order is asked about says nothing about the intent, and its digits are noise."""
    for entity in sorted(entities, key=lambda e: e.start, reverse=True):
        text = f"{text[: entity.start]} {entity.type} {text[entity.end :]}"
    return text


class IntentSupport:
    """The words (tokenizer output: jieba words, English stems, synonyms folded) of each
    intent's examples, to check a prediction against what the examples actually say."""

    def __init__(self, intents: dict[str, list[str]]) -> None:
        """``intents``: label → examples, entities already replaced by placeholders."""
        self._words = {
            label: {word for text in texts for word in tokenize(_PLACEHOLDER.sub(" ", text))}
            for label, texts in intents.items()
        }

    def coverage(self, label: str, text: str) -> float:
        """Share of the question's words found in the intent's examples (1.0: no words);
        entity placeholders are not words."""
        words = tokenize(_PLACEHOLDER.sub(" ", text))
        if not words:
            return 1.0
        known = self._words.get(label, set())
        return sum(word in known for word in words) / len(words)
