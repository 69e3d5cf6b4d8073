"""Passage thresholds calibrated per app and per language from the app's own knowledge.

The FAQ threshold is fitted on held-out FAQ questions (``calibration.py``). Documents come
with no questions, so at index time this module takes questions whose right answer is
known from the app's own knowledge and replays the engine's passage decision on them
(``engine/retrieval.decide_passages``: the first of the best ``TOP_K`` passages above the
threshold that is on the question's topic, ``topic.on_topic``):

* **FAQ questions whose answer a document quotes** (a chunk holds ``QUOTED`` of the
  answer's IDF-weighted words): the entry's 标准问 and one 相似问, phrased the way customers
  ask, not in the document's words. Right: a chunk of the quoting chunk's section (a long
  section is split into chunks; the question may be closer to the chunk beside the quote).
* **FAQ questions the documents do not answer** (no chunk holds ``UNQUOTED`` of the
  answer's words — invoices, passwords, payment methods in the demo): real questions the
  passages must decline; any answer is wrong.
* **section headings** ("退货运费规则", "Couriers"): right from a chunk of that section. The
  document's own words, so answered at almost any threshold: they steady the estimate but
  cannot make a language calibratable alone (fewer than ``MIN_TRIALS`` askings of FAQ
  questions → the app's configured threshold; an app without an FAQ keeps it).
* **left-out sections**: ``REMOVED_SHARE`` of the answerable questions (as the FAQ
  calibration removes 10 % of its entries) are asked again without the chunks of their
  section; any answer is then wrong — the app no longer holds the answer. Sections, not
  documents, are left out: an app with one long policy would have nothing left to answer
  from. A neighbouring section that still answers counts wrong: a bias towards declining,
  as overlapping FAQ entries give the FAQ calibration.

Questions are asked of their own language's chunks: the demo ships each policy in zh and
en, and its Chinese questions should not be judged on the English twin's chunks.
Why not the chunks' first sentences, or keyword queries cut from them: their words are all
in the chunk, so the right chunk always scores ~1.0 and a high threshold would look free;
real questions share only some words with the passage, which the FAQ's paraphrases do.

Each language's threshold then minimises the FAQ calibration's cost (a wrong answer counts
as ``WRONG_COST`` declines, ``DEFAULT_THRESHOLD`` kept unless another is better by more than
one standard error; see :func:`pick_passage_threshold` for why wrong answers as common as
declines do not rule a threshold out here). With a reranker (its own score
scale, a model call per question) or passage vectors in a remote store (which cannot leave
a section out) nothing is fitted. The result is stored in ``calibration.json`` under
``"passages"``; an explicit ``passage_threshold`` in the app file overrides it
(``AppRuntime.passage_threshold``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from kefu.core.types import Chunk, ChunkHit, FaqEntry
from kefu.knowledge.calibration import (
    CALIBRATION_FILE,
    MIN_TRIALS,
    PASSAGES_KEY,
    REMOVED_SHARE,
    WRONG_COST,
    LanguageThreshold,
    least_cost_threshold,
)
from kefu.knowledge.tokenizer import detect_language
from kefu.knowledge.topic import chunk_words, shares_topic, topic_words

__all__ = [
    "DEFAULT_THRESHOLD",
    "PASSAGES_KEY",
    "PassageCalibration",
    "PassageQuestion",
    "PassageTrial",
    "calibrate_passages",
    "passage_questions",
    "pick_passage_threshold",
]

DEFAULT_THRESHOLD = 0.3  # the app default (KnowledgeConfig.passage_threshold): the prior
STEP = 0.05
LOWEST, HIGHEST = 0.1, 0.9  # a fitted threshold stays in this range
TOP_K = 3  # passages the engine considers (KnowledgeConfig.top_k's default)
QUOTED = 0.6  # share of an FAQ answer's words a chunk holds to count as quoting it
UNQUOTED = 0.3  # ... and at most, in every chunk, for the documents not to answer it
MIN_ANSWER_WORDS = 3  # an answer with fewer topic words quotes nothing recognisably
MAX_QUESTIONS = 120  # per language and kind at most (bounds a large corpus's calibration)
METHOD = "generated questions"
SEED = 20261


@dataclass(frozen=True, slots=True)
class PassageQuestion:
    """A question taken from the app's knowledge: the chunks that answer it (by id: the
    chunks of its sections, left out for its second asking; none: the documents do not
    answer it). ``kind``: ``faq``, ``unanswered`` (an FAQ question no chunk quotes) or
    ``heading``."""

    text: str
    language: str
    accepted: frozenset[str]
    kind: str
    leave_out: bool = False  # asked a second time without its accepted chunks


@dataclass(frozen=True, slots=True)
class PassageTrial:
    """One asking: the on-topic passages in the engine's order, each (relevance, right);
    ``kind`` that of its question."""

    language: str
    candidates: tuple[tuple[float, bool], ...]
    kind: str = "faq"

    def outcome(self, threshold: float) -> bool | None:
        """At ``threshold``: True answered right, False answered wrong, None declined."""
        for relevance, right in self.candidates:
            if relevance >= threshold:
                return right
        return None


# the questions → per question: (passages searched in its language, the same with its
# accepted chunks left out — empty unless ``leave_out``), best first, as the index ranks
# them (top TOP_K)
PassageSearch = Callable[[Sequence[PassageQuestion]], list[tuple[list[ChunkHit], list[ChunkHit]]]]
# (an FAQ answer, its language) → the chunks (of that language) that share most of its
# words: (chunk id, the IDF-weighted share of the answer's words the chunk holds)
QuoteFinder = Callable[[str, str], list[tuple[str, float]]]


@dataclass(frozen=True, slots=True)
class PassageCalibration:
    """The calibrated passage thresholds of one index, per language; ``skipped`` says why
    nothing was fitted (a reranker, a remote vector store), else None."""

    languages: dict[str, LanguageThreshold]
    skipped: str | None = None

    def threshold(self, language: str, default: float) -> float:
        """The language's fitted threshold, else ``default`` (the app's configured one)."""
        found = self.languages.get(language)
        return default if found is None or found.threshold is None else found.threshold

    def describe(self, language: str) -> str:
        """How the language's threshold was chosen, in one line (for logs and reports)."""
        found = self.languages.get(language)
        if self.skipped:
            return f"app default (not calibrated: {self.skipped})"
        if found is None or found.threshold is None:
            trials = found.trials if found else 0
            return (
                f"app default ({trials} generated questions, fewer than {MIN_TRIALS} from the FAQ)"
            )
        precision = "—" if found.precision is None else f"{found.precision:.0%}"
        held = " (the default held)" if found.threshold == DEFAULT_THRESHOLD else ""
        return (
            f"{METHOD}{held}: {found.trials} askings of FAQ questions and section headings, some "
            f"with their sections left out (a wrong answer costs {WRONG_COST:g} declines): "
            f"answered {found.answered:.0%}, precision {precision}"
        )

    def save(self, folder: Path) -> None:
        """Add the passage thresholds to ``calibration.json`` (written by the FAQ part)."""
        path = folder / CALIBRATION_FILE
        try:
            payload = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        payload[PASSAGES_KEY] = {
            "skipped": self.skipped,
            "languages": {lang: asdict(value) for lang, value in self.languages.items()},
        }
        path.write_text(json.dumps(payload, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> PassageCalibration | None:
        """The calibration saved in ``folder`` (None: missing, unreadable, or a file saved
        before passages were calibrated)."""
        try:
            found = json.loads((folder / CALIBRATION_FILE).read_text("utf-8"))[PASSAGES_KEY]
            languages = found["languages"]
            return cls(
                {lang: LanguageThreshold(**value) for lang, value in languages.items()},
                found.get("skipped"),
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None


def passage_questions(
    chunks: Sequence[Chunk], entries: Sequence[FaqEntry], quoting: QuoteFinder
) -> list[PassageQuestion]:
    """The questions to ask (see the module): FAQ questions whose answer a chunk quotes,
    and the chunks' section headings; at most ``MAX_QUESTIONS`` per language and kind."""
    by_id = {chunk.id: chunk for chunk in chunks}
    section: dict[tuple[str, str], set[str]] = {}  # (document, heading) → its chunks
    for chunk in chunks:
        section.setdefault((chunk.document_id, chunk.heading), set()).add(chunk.id)
    found: list[PassageQuestion] = []
    for entry in entries:
        language = detect_language(entry.question)
        if len(topic_words(entry.answer)) < MIN_ANSWER_WORDS:
            continue
        covered = quoting(entry.answer, language)
        best = max((coverage for _, coverage in covered), default=0.0)
        if best < UNQUOTED:  # the documents do not answer it: a question to decline
            for text in dict.fromkeys((entry.question, *entry.variants[:1])):
                found.append(PassageQuestion(text, language, frozenset(), "unanswered"))
            continue
        quoted = [by_id[c] for c, coverage in covered if coverage >= QUOTED]
        if not quoted:
            continue  # half covered: neither a clear positive nor a clear negative
        # the quoting chunk's whole section answers: a long section is split into chunks,
        # and the question may be closer to the chunk beside the quote
        accepted = frozenset(c for q in quoted for c in section[(q.document_id, q.heading)])
        for text in dict.fromkeys((entry.question, *entry.variants[:1])):
            found.append(PassageQuestion(text, language, accepted, "faq"))
    sections: dict[tuple[str, str], set[str]] = {}
    for chunk in chunks:
        name = chunk.heading.rsplit(" > ", 1)[-1].strip() if chunk.heading else ""
        # a heading in another language than its text ("FAQ", a product name) is asked
        # of chunks in the wrong language: left out
        if name and name != chunk.document_name and topic_words(name):
            if detect_language(name) == detect_language(chunk.content):
                sections.setdefault((chunk.document_id, name), set()).add(chunk.id)
    for (_, name), ids in sections.items():
        found.append(PassageQuestion(name, detect_language(name), frozenset(ids), "heading"))
    rng = random.Random(SEED)
    groups: dict[tuple[str, str], list[PassageQuestion]] = {}
    for question in found:
        groups.setdefault((question.language, question.kind), []).append(question)
    chosen: list[PassageQuestion] = []
    for key in sorted(groups):
        group = groups[key]
        chosen += group if len(group) <= MAX_QUESTIONS else rng.sample(group, MAX_QUESTIONS)
    # as the FAQ calibration removes 10 % of its entries: some answerable questions are
    # asked again without their section
    return [
        replace(q, leave_out=True) if q.accepted and rng.random() < REMOVED_SHARE else q
        for q in chosen
    ]


def passage_trials(
    questions: Sequence[PassageQuestion], search: PassageSearch
) -> list[PassageTrial]:
    """Each question asked with its sections (right: an accepted chunk) and without them
    (every answer wrong), as the engine decides: on-topic passages only."""
    trials: list[PassageTrial] = []
    words: dict[str, set[str]] = {}  # chunk id → its words, tokenized once

    def on_topic(wanted: set[str], hit: ChunkHit) -> bool:
        found = words.get(hit.chunk.id)
        if found is None:
            found = words[hit.chunk.id] = chunk_words(hit.chunk)
        return shares_topic(wanted, found)

    for question, (present, removed) in zip(questions, search(questions), strict=True):
        wanted = topic_words(question.text)
        language, kind = question.language, question.kind
        if not question.accepted:  # the documents do not answer it: every answer is wrong
            answers = tuple((hit.relevance, False) for hit in present if on_topic(wanted, hit))
            trials.append(PassageTrial(language, answers, kind))
            continue
        answers = tuple(
            (hit.relevance, hit.chunk.id in question.accepted)
            for hit in present
            if on_topic(wanted, hit)
        )
        trials.append(PassageTrial(language, answers, kind))
        if question.leave_out:
            answers = tuple((hit.relevance, False) for hit in removed if on_topic(wanted, hit))
            trials.append(PassageTrial(language, answers, kind))
    return trials


def pick_passage_threshold(trials: Sequence[PassageTrial]) -> LanguageThreshold:
    """The FAQ calibration's cost (``calibration.pick_threshold``) over passage trials: the
    threshold on a grid of ``STEP`` with the least mean cost, a wrong answer costing
    ``WRONG_COST`` declines; ``DEFAULT_THRESHOLD`` unless the best beats it by more than
    one standard error. A passage trial may be answered by its second or third passage at a
    lower threshold, so it is replayed at each threshold rather than reduced to one
    relevance. None (the app's own threshold) with fewer than ``MIN_TRIALS`` askings of FAQ
    questions: headings alone are the document's own words, answered at any threshold, and
    would make a high one look free.

    Unlike the FAQ's, no threshold is ruled out for wrong answers as common as declines:
    the generated questions are mostly answerable (declines are rare by construction), so
    that rule read the mix, not the passages — on the demo it alone lifted English to 0.65
    (cost 0.699 against 0.726 at 0.3, well within one standard error, 0.09), which on the
    hand-written passage questions (docs/evaluation.md) declined 7 of 19 right English
    answers to avoid 2 wrong ones. The cost already prices a wrong quote at two declines."""
    if sum(trial.kind != "heading" for trial in trials) < MIN_TRIALS:
        return LanguageThreshold(None, "default", len(trials))

    def costs_at(threshold: float) -> list[float]:
        outcomes = [trial.outcome(threshold) for trial in trials]
        return [1.0 if o is None else 0.0 if o else WRONG_COST for o in outcomes]

    chosen = least_cost_threshold(
        costs_at, lowest=LOWEST, highest=HIGHEST, default=DEFAULT_THRESHOLD, step=STEP
    )
    outcomes = [trial.outcome(chosen) for trial in trials]
    answered = len(outcomes) - outcomes.count(None)
    return LanguageThreshold(
        chosen,
        METHOD,
        len(trials),
        round(answered / len(trials), 4),
        round(outcomes.count(True) / answered, 4) if answered else None,
    )


def calibrate_passages(
    chunks: Sequence[Chunk],
    entries: Sequence[FaqEntry],
    quoting: QuoteFinder,
    search: PassageSearch,
) -> PassageCalibration:
    """Per language of the chunks: the passage threshold fitted on generated questions."""
    questions = passage_questions(chunks, entries, quoting) if chunks else []
    trials = passage_trials(questions, search) if questions else []
    languages = {t.language for t in trials} | {detect_language(c.content) for c in chunks}
    return PassageCalibration(
        {
            language: pick_passage_threshold([t for t in trials if t.language == language])
            for language in sorted(languages)
        }
    )
