"""The knowledge loop: from what customers asked and the bot could not answer (or answered
badly) to a published answer, and back to the figures.

1. The gap report groups unanswered and disliked questions by meaning (the app's sentence
   embedder, zh and en) as well as by words (``knowledge_gaps``).
2. :meth:`KnowledgeLoop.draft` writes a draft answer for a group: the app's model from the
   best passages when one is configured, otherwise the best passage itself.
3. The operator edits it and :meth:`KnowledgeLoop.promote` publishes it in one step, as an
   FAQ entry (with the group's phrasings as variants) or as an annotation; an agent's reply
   in a hand-over is published the same way.
4. The newest unanswered questions are then re-checked against the new knowledge: those it
   now answers directly are recorded as resolved, so the gap report (and its count) drops
   them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from anyio import to_thread

from kefu.core.errors import InvalidParam, ProviderError
from kefu.core.ids import utcnow
from kefu.core.records import SegmentDraft
from kefu.engine.app import AppRuntime
from kefu.engine.generation import SUMMARY_SAMPLING
from kefu.engine.prompt import draft_answer_prompt
from kefu.engine.retrieval import decide_direct
from kefu.knowledge.tokenizer import detect_language
from kefu.llm.profiles import strip_think
from kefu.services.annotations import AnnotationService
from kefu.services.datasets import DatasetService
from kefu.services.knowledge_gaps import open_questions
from kefu.store import Store

__all__ = [
    "LOOP_FAQ_FILE",
    "Draft",
    "KnowledgeLoop",
    "PromoteKind",
    "Promoted",
]

log = logging.getLogger(__name__)

LOOP_FAQ_FILE = "knowledge-loop.jsonl"  # the FAQ document promoted answers go into
RECHECK_DAYS = 30
RECHECK_LIMIT = 500  # the newest unanswered questions re-checked after a promotion
DRAFT_PASSAGES = 3
MAX_VARIANTS = 20
MAX_TEXT = 4000
PromoteKind = Literal["faq", "annotation"]


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    kind: Literal["model", "passage", "none"]
    sources: list[str]  # the documents the draft rests on


@dataclass(frozen=True, slots=True)
class Promoted:
    kind: PromoteKind
    id: str  # the FAQ entry's or the annotation's id
    question: str
    answer: str
    variants: list[str]
    rechecked: int  # unanswered questions looked at again
    now_answered: int  # of those, answered directly by the knowledge now
    annotation_reply_enabled: bool  # promoting an annotation switched annotation reply on


def _clean(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidParam(f"{what} must not be empty")
    if len(text) > MAX_TEXT:
        raise InvalidParam(f"{what} is longer than {MAX_TEXT} characters")
    return text


class KnowledgeLoop:
    def __init__(
        self, store: Store, datasets: DatasetService, annotations: AnnotationService
    ) -> None:
        self._store = store
        self._datasets = datasets
        self._annotations = annotations

    async def draft(self, app: AppRuntime, question: str) -> Draft:
        """A draft answer to ``question`` for an operator to edit."""
        question = _clean(question, "question")
        hits = await to_thread.run_sync(lambda: app.index.search(question, top_k=DRAFT_PASSAGES))
        passages = [hit for hit in hits if hit.chunk.content.strip()]
        names = list(dict.fromkeys(hit.chunk.document_name for hit in passages))
        if app.model is not None:
            prompt = draft_answer_prompt(
                question, [hit.chunk.content for hit in passages], detect_language(question)
            )
            try:
                completion = await app.model.complete(prompt, SUMMARY_SAMPLING)
                text = strip_think(completion.text).strip()
                if text:
                    return Draft(text, "model", names)
            except ProviderError as exc:  # the passage is still a draft
                log.warning("no model draft for a knowledge gap: %s", exc.message)
        if passages:
            best = passages[0].chunk
            return Draft(best.content.strip(), "passage", [best.document_name])
        return Draft("", "none", [])

    async def promote(
        self,
        app: AppRuntime,
        question: str,
        answer: str,
        variants: list[str],
        kind: PromoteKind,
    ) -> Promoted:
        """Publish ``answer`` to ``question`` (and its ``variants``), wait until the index
        has it, then re-check the unanswered questions against it."""
        question, answer = _clean(question, "question"), _clean(answer, "answer")
        if len(variants) > MAX_VARIANTS:
            raise InvalidParam(f"at most {MAX_VARIANTS} variants")
        others = list(dict.fromkeys(_clean(v, "a variant") for v in variants))
        others = [v for v in others if v != question]
        enabled = False
        if kind == "annotation":
            record = await self._annotations.create(app, question, answer)
            entry_id = record.id
            settings = await to_thread.run_sync(self._store.annotations.settings, app.id)
            if not settings.enabled:  # an annotation the operator publishes must answer
                await self._annotations.set_reply(app, "enable", None, None, None)
                enabled = True
            for variant in others:  # annotations have one question each
                await self._annotations.create(app, variant, answer)
        else:
            entry_id = await self._add_faq(app, question, answer, others)
        await self._datasets.wait_indexed(app)
        rechecked, answered = await to_thread.run_sync(
            lambda: self._recheck(app, answer, f"{kind}:{entry_id}")
        )
        return Promoted(kind, entry_id, question, answer, others, rechecked, answered, enabled)

    async def _add_faq(
        self, app: AppRuntime, question: str, answer: str, variants: list[str]
    ) -> str:
        documents, _ = await to_thread.run_sync(
            lambda: self._store.datasets.documents(app.id, None, keyword=LOOP_FAQ_FILE)
        )
        loop_file = next((d for d in documents if d.name == LOOP_FAQ_FILE), None)
        if loop_file is None:
            line = {"question": question, "variants": variants, "answer": answer}
            document, _ = await self._datasets.add_file(
                app, app.id, LOOP_FAQ_FILE, json.dumps(line, ensure_ascii=False).encode(), None
            )
            _, segments, _ = await self._datasets.list_segments(
                app, app.id, document.id, 1, 1, None
            )
            return segments[0].id
        _, added = await self._datasets.add_segments(
            app, app.id, loop_file.id, [SegmentDraft(question, answer, tuple(variants))]
        )
        return added[0].id

    def _recheck(self, app: AppRuntime, answer: str, resolved_by: str) -> tuple[int, int]:
        """Ask the newest unanswered and disliked questions again (routing only, nothing
        stored); record those the new answer now answers directly."""
        since = utcnow() - timedelta(days=RECHECK_DAYS)
        asked = open_questions(self._store, app.id, since, RECHECK_LIMIT)
        answered: list[str] = []
        for question in asked:
            decision, _ = decide_direct(app, question.query, {})
            if decision is not None and decision.faq_hits[0].entry.answer == answer:
                answered.append(question.message_id)
        self._store.questions.resolve(app.id, answered, resolved_by)
        return len(asked), len(answered)
