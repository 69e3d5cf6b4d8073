"""An app at run time: its configuration, knowledge index, understanding, flows, tools and model."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kefu.appfile.app_config import AppConfig, RepliesConfig
from kefu.core.caches import BoundedCache, Cache, CacheFactory, in_memory
from kefu.core.types import Chunk, FaqEntry
from kefu.engine.annotation_book import AnnotationBook
from kefu.engine.dialog.flows import FlowBook
from kefu.engine.guards import InputVerdict
from kefu.engine.route_cache import RouteDecision, fold_question
from kefu.engine.semantic_cache import SemanticRouteCache
from kefu.engine.understanding import AppUnderstanding
from kefu.knowledge import BuildProgress, BuildReport, KnowledgeIndex, knowledge_fingerprint
from kefu.knowledge.calibration import FaqCalibration
from kefu.knowledge.passage_calibration import PassageCalibration
from kefu.llm.base import ChatModel
from kefu.safety.sensitive import SensitiveWords
from kefu.tools import ToolRegistry

__all__ = ["AppRuntime", "sensitive_words"]

log = logging.getLogger(__name__)
VERDICT_CACHE_SIZE = 4096
SUMMARY_CACHE_SIZE = 1024  # summaries of long conversations, per app


@dataclass(eq=False)
class AppRuntime:
    """One loaded app: what the turn pipeline needs to answer for it."""

    id: str
    config: AppConfig
    index: KnowledgeIndex
    knowledge_revision: int = -1
    route_cache_size: int = 0
    model: ChatModel | None = None  # None: extractive answers only
    sensitive: SensitiveWords | None = None  # None: no word list at all
    understanding: AppUnderstanding | None = None  # None: no intents, entities or sentiment
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    flows: FlowBook = field(default_factory=lambda: FlowBook((), RepliesConfig()))
    input_verdicts: BoundedCache[str, InputVerdict] = field(
        default_factory=lambda: BoundedCache(VERDICT_CACHE_SIZE)
    )
    answer_verdicts: BoundedCache[str, list[str]] = field(
        default_factory=lambda: BoundedCache(VERDICT_CACHE_SIZE)
    )
    route_cache: Cache[tuple[str, str], RouteDecision] = field(
        default_factory=lambda: BoundedCache(0)
    )
    caches: CacheFactory = in_memory  # where the route cache lives (shared with Redis)
    # near-duplicates of recent questions (None: off, or no embedder); replaced with the
    # route cache, so a change of knowledge, annotations or config never reuses a decision
    semantic_cache: SemanticRouteCache | None = None
    annotations: AnnotationBook = field(default_factory=AnnotationBook)
    # (conversation id, last summarised message id) → the summary of the turns up to it
    summaries: BoundedCache[tuple[str, str], str] = field(
        default_factory=lambda: BoundedCache(SUMMARY_CACHE_SIZE)
    )
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _faq_forms: tuple[str | None, dict[str, str]] = field(
        default=(None, {}), init=False, repr=False
    )

    def faq_forms(self) -> dict[str, str]:
        """Every FAQ question and variant (folded, :func:`fold_question`) → its entry id;
        a form that two entries with different answers share is left out. Worked out once
        per indexed knowledge."""
        fingerprint, forms = self._faq_forms
        if fingerprint != self.index.fingerprint or fingerprint is None:
            answers: dict[str, set[str]] = {}
            ids: dict[str, str] = {}
            for entry in self.index.faq_entries:
                for form in (entry.question, *entry.variants):
                    folded = fold_question(form)
                    if folded:
                        answers.setdefault(folded, set()).add(entry.answer)
                        ids.setdefault(folded, entry.id)
            forms = {form: ids[form] for form, found in answers.items() if len(found) == 1}
            self._faq_forms = (self.index.fingerprint, forms)
        return forms

    @property
    def name(self) -> str:
        return self.config.name

    def faq_threshold(self, language: str) -> float:
        """The FAQ relevance that answers directly in ``language``: the app file's
        ``faq_threshold`` when it sets one, else the one calibrated on the app's own FAQ
        (``kefu.knowledge.calibration``), else the default."""
        knowledge = self.config.knowledge
        if "faq_threshold" in knowledge.model_fields_set:
            return knowledge.faq_threshold
        return self.index.calibration.threshold(language, knowledge.faq_threshold)

    def passage_threshold(self, language: str) -> float:
        """The passage relevance that answers from a document in ``language`` — the one
        place every reader asks (routing, grounding sources, flows' knowledge, the
        semantic cache, the dataset API). The rule, as for the FAQ: the app file's
        ``passage_threshold`` when it sets one, else the one calibrated on questions written
        from the app's own knowledge (``kefu.knowledge.passage_calibration``), else the
        default."""
        knowledge = self.config.knowledge
        if "passage_threshold" in knowledge.model_fields_set:
            return knowledge.passage_threshold
        return self.index.passage_calibration.threshold(language, knowledge.passage_threshold)

    def install_knowledge(
        self,
        revision: int,
        faqs: list[FaqEntry],
        chunks: list[Chunk],
        annotations: AnnotationBook,
        progress: BuildProgress | None = None,
    ) -> BuildReport | None:
        """Use the knowledge at ``revision`` (loaded by the caller): load the persisted index
        if it matches, else rebuild it (incrementally: only new chunks are tokenized, only
        new texts embedded; ``progress`` hears how it goes); a new route cache. What the
        build did, or None if ``revision`` was already installed."""
        with self.lock:
            if revision == self.knowledge_revision:
                return None
            started = time.perf_counter()
            fingerprint = knowledge_fingerprint(faqs, chunks, self.index.embedder_name)
            if self.index.load(fingerprint):
                report = BuildReport(
                    len(faqs), len(chunks), seconds=time.perf_counter() - started, loaded=True
                )
            else:
                report = self.index.rebuild(faqs, chunks, fingerprint, progress=progress)
            self.annotations = annotations
            self.knowledge_revision = revision
            self.route_cache = self._new_route_cache()
            self.semantic_cache = self._new_semantic_cache()
            log.info(
                "app %s: knowledge revision %d: %s; FAQ thresholds: %s; passage thresholds: %s",
                self.name,
                revision,
                report.summary(),
                self.describe_faq_thresholds(),
                self.describe_passage_thresholds(),
            )
            return report

    def describe_faq_thresholds(self) -> str:
        """Each FAQ language's threshold and where it came from, for the load log."""
        return self._describe_thresholds(
            "faq_threshold", self.index.calibration, self.faq_threshold
        )

    def describe_passage_thresholds(self) -> str:
        """Each document language's passage threshold and where it came from."""
        return self._describe_thresholds(
            "passage_threshold", self.index.passage_calibration, self.passage_threshold
        )

    def _describe_thresholds(
        self,
        field: str,
        calibration: FaqCalibration | PassageCalibration,
        threshold: Callable[[str], float],
    ) -> str:
        configured = getattr(self.config.knowledge, field)
        if field in self.config.knowledge.model_fields_set:
            return f"{configured} (set in the app file)"
        return (
            "; ".join(
                f"{language} {threshold(language)}: {calibration.describe(language)}"
                for language in sorted(calibration.languages)
            )
            or f"{configured} (app default)"
        )

    def install_annotations(self, book: AnnotationBook) -> None:
        """Use changed annotations now, without reloading the knowledge index."""
        with self.lock:
            if book is not self.annotations:
                self.annotations = book
                self.route_cache = self._new_route_cache()
                self.semantic_cache = self._new_semantic_cache()

    def _new_route_cache(self) -> Cache[tuple[str, str], RouteDecision]:
        """A new cache object, not clear(): the event loop may be reading the old one. Its
        namespace names what decisions depend on: the knowledge and the annotations."""
        config = hashlib.sha256(self.config.model_dump_json().encode()).hexdigest()[:16]
        annotations = self.annotations.fingerprint[:16]
        namespace = f"{self.id}:route:{config}:{self.knowledge_revision}:{annotations}"
        cache: Cache[tuple[str, str], RouteDecision] = self.caches(namespace, self.route_cache_size)
        return cache

    def _new_semantic_cache(self) -> SemanticRouteCache | None:
        """An empty semantic cache when it is on, the route cache is on and the app embeds
        its questions (the vector comes with retrieval; without one there is nothing to
        compare)."""
        settings = self.config.knowledge.semantic_cache
        if not settings.enabled or self.route_cache_size <= 0 or self.index.embedder is None:
            return None
        return SemanticRouteCache(
            size=settings.size,
            threshold=settings.threshold,
            ttl_s=settings.ttl_s,
            min_overlap=settings.min_shared_words,
        )


def sensitive_words(config: AppConfig) -> SensitiveWords | None:
    safety = config.safety
    words = SensitiveWords.from_lists(
        safety.sensitive_words,
        include_default=safety.default_word_list,
        allow=safety.allowed_words,
    )
    return words if len(words) else None
