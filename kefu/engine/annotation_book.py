"""An app's annotations as the route stage sees them: curated questions matched like FAQ.

Annotations are indexed in a small :class:`~kefu.knowledge.KnowledgeIndex` of their own
(the app's embedder and fusion, so relevance means what it means for FAQ entries), built
only while annotation reply is on, and rebuilt only when the annotations or the setting
change — not on every hit, and not when documents change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from kefu.core.records import AnnotationRecord, AnnotationSettings
from kefu.core.types import FaqEntry, FaqHit
from kefu.knowledge import KnowledgeIndex

__all__ = ["ANNOTATION_SOURCE", "AnnotationBook"]

ANNOTATION_SOURCE = "annotation"  # the document name an annotation's answer is cited as


@dataclass(frozen=True, slots=True)
class AnnotationBook:
    """The app's annotation reply: whether it is on, its threshold, and the index."""

    settings: AnnotationSettings = field(default_factory=AnnotationSettings)
    index: KnowledgeIndex | None = None  # None: reply off, or no annotations
    fingerprint: str = ""

    @property
    def active(self) -> bool:
        return self.settings.enabled and self.index is not None

    def best(self, query: str) -> FaqHit | None:
        """The annotation whose question best matches ``query`` (any relevance)."""
        if not self.active or self.index is None:
            return None
        hits = self.index.match_faq(query, top_k=1)
        return hits[0] if hits else None

    def reload(
        self,
        settings: AnnotationSettings,
        annotations: Sequence[AnnotationRecord],
        like: KnowledgeIndex,
    ) -> AnnotationBook:
        """This book, or a new one if the annotations or setting changed.

        ``like`` is the app's knowledge index: the annotation index uses its embedder and
        retrieval settings.
        """
        annotations = annotations if settings.enabled else []
        fingerprint = hashlib.sha256(
            orjson.dumps(
                [
                    settings.enabled,
                    settings.score_threshold,
                    like.embedder_name,
                    [(a.id, a.question, a.answer) for a in annotations],
                ]
            )
        ).hexdigest()
        if fingerprint == self.fingerprint:
            return self
        index = None
        if annotations:
            # Annotations answer at their own score_threshold: nothing to calibrate.
            index = KnowledgeIndex(
                embedder=like.embedder, retrieval=like.retrieval, calibrate=False
            )
            index.rebuild(
                [
                    FaqEntry(
                        id=a.id,
                        question=a.question,
                        answer=a.answer,
                        document_name=ANNOTATION_SOURCE,
                    )
                    for a in annotations
                ],
                [],
            )
        return AnnotationBook(settings, index, fingerprint)
