"""Knowledge gaps: the questions the knowledge base could not answer, grouped.

Mined from stored turns, so the hot path writes nothing extra. A question is a gap when
routing looked it up and nothing was confident: no annotation or FAQ entry at its
threshold, no passage at the passage threshold (route ``fallback``; or ``generate`` from
weak FAQ sources only; or a hand-over that low confidence triggered). The route stage's
trace holds the candidates and thresholds that decide it.

Questions whose answer the customer disliked are gaps too, whatever their route; so are
neither the questions that new knowledge has since answered (the knowledge loop's
re-check records them, ``kefu.services.knowledge_loop``).

Near-duplicates are grouped greedily: questions in order of frequency, each joining the
group whose representative it resembles most (if enough), else starting a group.
Resemblance by words is the Dice coefficient of the tokenizer's words (weight 1; stopwords
dropped, question words folded) plus each Chinese character of those words (weight ½, so
开发票 and 开具发票 meet). With the app's sentence embedder (multilingual: zh and en), the
cosine of the two questions counts too, so 可以开专票吗 joins 能开增值税专用发票吗 and
"Do you ship to Canada?" joins 你们发货到加拿大吗.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread

from kefu.core.errors import NotFound
from kefu.core.ids import utcnow
from kefu.core.records import AskedQuestion
from kefu.core.settings import Settings
from kefu.knowledge import tokenize
from kefu.knowledge.embedders.base import Embedder
from kefu.safety.pii import mask_pii
from kefu.store import Store

__all__ = [
    "GapGroup",
    "GapReport",
    "KnowledgeGapService",
    "find_gaps",
    "gap_report",
    "group_questions",
    "is_gap",
    "open_questions",
]

log = logging.getLogger(__name__)

CANDIDATE_ROUTES = ("fallback", "generate", "handoff", "ticket")
MAX_QUESTIONS = 5_000  # the newest questions looked at per report
SIMILARITY = 0.5  # weighted Dice coefficient to join a group
# Cosine of the embedder's vectors to join a group. Measured with USE multilingual v3 on
# customer questions: paraphrases 0.66-0.81 (zh, en and across), unrelated ones 0.11-0.32.
SEMANTIC_SIMILARITY = 0.6
CHARACTER_WEIGHT = 0.5
MAX_EXAMPLES = 5
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACES = re.compile(r"\s+")
_END_PUNCTUATION = " \t\n?!.,;:？！。，；：~～…"


@dataclass(frozen=True, slots=True)
class GapGroup:
    """Near-duplicate unanswered questions: how often, how recently, how close we came."""

    question: str  # the most frequent phrasing
    count: int
    examples: list[str]  # the other phrasings, most frequent first
    last_asked: datetime
    best_score: float  # the best FAQ/passage relevance any of them got
    message_ids: list[str] = field(default_factory=list)  # the newest, to open their traces
    disliked: int = 0  # of ``count``, answers the customer disliked


@dataclass(frozen=True, slots=True)
class GapReport:
    app: str
    days: int
    questions: int  # unanswered questions in the window
    groups: list[GapGroup]


def _route_record(trace: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for stage in trace.get("stages") or []:
        if isinstance(stage, Mapping) and stage.get("name") == "route":
            return stage
    return None


def _best(candidates: Any) -> float:
    scores = [c.get("relevance", 0.0) for c in candidates or [] if isinstance(c, Mapping)]
    return float(max(scores, default=0.0))


def best_score(trace: Mapping[str, Any]) -> float:
    record = _route_record(trace) or {}
    return max(_best(record.get("faq_candidates")), _best(record.get("passage_candidates")))


def is_gap(question: AskedQuestion) -> bool:
    """Whether routing looked the question up and found nothing confident."""
    record = _route_record(question.trace)
    if record is None or "faq_threshold" not in record:
        # No lookup recorded: a fallback is still a miss; a hand-over the customer asked
        # for (or a flow's) is not about the knowledge.
        return question.route == "fallback"
    if record.get("route") == "annotation":
        return False
    if _best(record.get("faq_candidates")) >= float(record["faq_threshold"]):
        return False
    passage_threshold = float(record.get("passage_threshold", 1.0))
    return _best(record.get("passage_candidates")) < passage_threshold


def _normal(text: str) -> str:
    """One key for phrasings that differ only in case, spacing and end punctuation."""
    return _SPACES.sub(" ", text.lower()).strip(_END_PUNCTUATION)


def _features(text: str) -> frozenset[str]:
    """Words, plus each Chinese character of them (different words for one thing share
    characters: 开发票 / 开具发票)."""
    words = tokenize(text)
    characters = {f"#{ch}" for word in words for ch in _CJK.findall(word)}
    return frozenset(words) | characters or frozenset({_normal(text)})


@dataclass
class _Group:
    features: frozenset[str]
    phrasings: Counter[str] = field(default_factory=Counter)
    asked: list[AskedQuestion] = field(default_factory=list)


def group_questions(
    questions: Sequence[AskedQuestion],
    similarity: float = SIMILARITY,
    embedder: Embedder | None = None,
    semantic_similarity: float = SEMANTIC_SIMILARITY,
) -> list[GapGroup]:
    """Group near-duplicate questions, largest group first (then the most recent); by
    words, and by meaning too when an ``embedder`` is given."""
    by_text: dict[str, list[AskedQuestion]] = defaultdict(list)
    for question in questions:
        by_text[_normal(question.query)].append(question)
    # The most asked phrasing first, so it becomes its group's representative.
    ordered = sorted(by_text.items(), key=lambda item: (-len(item[1]), item[0]))
    features = {text: _features(asked[0].query) for text, asked in ordered}
    vectors = None
    if embedder is not None and ordered:
        try:
            vectors = embedder.embed([asked[0].query for _, asked in ordered])
        except Exception as exc:
            log.warning("knowledge gaps grouped by words only: %s", exc)

    def weight(found: Iterable[str]) -> float:
        return sum(CHARACTER_WEIGHT if f.startswith("#") else 1.0 for f in found)

    def resemblance(a: frozenset[str], b: frozenset[str]) -> float:
        total = weight(a) + weight(b)
        return 2 * weight(a & b) / total if total else 0.0

    groups: list[_Group] = []
    leaders: list[int] = []  # each group's representative, as an index into ``ordered``
    holding: dict[str, list[int]] = defaultdict(list)  # feature → groups whose rep has it
    for position, (text, asked) in enumerate(ordered):
        own = features[text]
        # How far past its threshold each candidate group is (≥ 1 joins): by words, or by
        # meaning against every group's representative.
        reach: dict[int, float] = {}
        for g in {g for f in own for g in holding[f]}:
            reach[g] = resemblance(own, groups[g].features) / similarity
        if vectors is not None and groups:
            cosines = vectors[leaders] @ vectors[position]
            for g, cosine in enumerate(cosines.tolist()):
                reach[g] = max(reach.get(g, 0.0), cosine / semantic_similarity)
        match = None
        if reach and max(reach.values()) >= 1.0:
            best = max(reach.values())
            match = min(g for g, r in reach.items() if r == best)  # older (larger) first
        if match is None:
            match = len(groups)
            groups.append(_Group(own))
            leaders.append(position)
            for f in own:
                holding[f].append(match)
        group = groups[match]
        # One phrasing per key, as most often written (on a tie, as first asked).
        written = Counter(q.query.strip() for q in sorted(asked, key=lambda q: q.created_at))
        group.phrasings[written.most_common(1)[0][0]] += len(asked)
        group.asked.extend(asked)
    found = [_gap_group(group) for group in groups]
    found.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return found


def _gap_group(group: _Group) -> GapGroup:
    phrasings = [text for text, _ in group.phrasings.most_common()]
    newest = sorted(group.asked, key=lambda q: q.created_at, reverse=True)
    # A report is read by operators who need the question, never the customer's phone
    # number or e-mail: masked here whatever the app stores (raw messages included).
    return GapGroup(
        question=mask_pii(phrasings[0]),
        count=len(group.asked),
        examples=[mask_pii(text) for text in phrasings[1 : 1 + MAX_EXAMPLES]],
        last_asked=newest[0].created_at,
        best_score=round(max(best_score(q.trace) for q in group.asked), 4),
        message_ids=[q.message_id for q in newest[:MAX_EXAMPLES]],
        disliked=sum(q.disliked for q in group.asked),
    )


def open_questions(store: Store, app_id: str, since: datetime, limit: int) -> list[AskedQuestion]:
    """The newest ``limit`` unanswered questions and ``limit`` disliked answers since
    ``since`` that nothing has answered since (each question once)."""
    asked = store.questions.asked_since(app_id, since, CANDIDATE_ROUTES, limit)
    gaps = [q for q in asked if is_gap(q)]
    seen = {q.message_id for q in gaps}
    disliked = store.questions.disliked_since(app_id, since, limit)
    return gaps + [q for q in disliked if q.message_id not in seen]


def find_gaps(
    store: Store,
    app_id: str,
    app_name: str,
    days: int,
    limit: int,
    now: datetime | None = None,
    embedder: Embedder | None = None,
) -> GapReport:
    """The app's knowledge gaps over the last ``days`` days, the ``limit`` largest groups:
    unanswered questions and disliked answers that nothing has answered since."""
    since = (now or utcnow()) - timedelta(days=days)
    gaps = open_questions(store, app_id, since, MAX_QUESTIONS)
    groups = group_questions(gaps, embedder=embedder)
    return GapReport(app_name, days, len(gaps), groups[:limit])


def gap_report(
    settings: Settings, app_names: Iterable[str] | None, days: int, limit: int
) -> list[GapReport]:
    """Reports straight from the database (for ``kefu kb gaps``: no app files needed).
    ``app_names`` None: every stored app."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.resolved_database_url())
    try:
        apps = {app.name: app for app in store.apps.list_apps()}
        names = list(app_names) if app_names is not None else sorted(apps)
        reports = []
        for name in names:
            if name not in apps:
                known = ", ".join(sorted(apps)) or "none yet"
                raise NotFound(f"no app named {name!r} in this database (apps: {known})")
            reports.append(find_gaps(store, apps[name].id, name, days, limit))
        return reports
    finally:
        store.close()


class KnowledgeGapService:
    """Knowledge gaps of a loaded app (the admin API)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def report(
        self,
        app_id: str,
        app_name: str,
        days: int,
        limit: int,
        embedder: Embedder | None = None,
    ) -> GapReport:
        return await to_thread.run_sync(
            lambda: find_gaps(self._store, app_id, app_name, days, limit, embedder=embedder)
        )
