"""The query-time shortcuts of FAQ and passage scoring compute exactly, bit for bit, what the
plain forms they replace compute: a turn must decide as it did before they were taken."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.types import FaqHit
from kefu.knowledge import KnowledgeIndex
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._faq_fusion import FormGrid, FormVoting, entry_cosine, form_hubness
from kefu.knowledge._faq_scorer import PARTIAL_CREDIT
from kefu.knowledge._index_match import Scoring, query_tokens, ranked_faq_hits
from kefu.knowledge._index_snapshot import Snapshot
from kefu.knowledge._lexicon import Lexicon, Query
from kefu.knowledge.ingest import read_faq_file
from kefu.knowledge.tokenizer import detect_language, tokenize, tokenize_question
from kefu.knowledge.vectors.base import check_query, normalise
from tests.knowledge._fakes import ConceptEmbedder

DEMO = Path(__file__).resolve().parents[2] / "apps" / "demo-shop"
QUESTIONS = (
    "退货运费谁出",
    "请问退貨要扣多少運費？",
    "优惠劵用不了是怎么回事",
    "我昨天付的钱咋还没发",
    "看看看看我的订单",
    "能不能给我发顺丰，中通太慢了",
    "my tracking hasnt moved in like 4 days??",
    "how long does shipping take",
    "会员积分 points 能换什么",
    "",
)


@pytest.fixture(scope="module")
def faq() -> FaqIndex:
    return FaqIndex.create(read_faq_file(DEMO / "faq.jsonl") + read_faq_file(DEMO / "faq_en.jsonl"))


def plain_form_relevance(faq: FaqIndex, query: Query) -> np.ndarray:
    """The FAQ relevance of every form as first written: one character, word and matrix
    product at a time."""
    scorer = faq.scorer
    known_weights = np.zeros(len(scorer.weights))
    known = list(query.known)
    known_weights[known] = scorer.weights[known]
    chinese = [term for term in query.terms if detect_language(term[0]) == "zh"]
    covered = scorer.entry_tokens @ known_weights
    for text, token_id, weight in chinese:
        found = np.zeros(covered.shape[0])
        for character in text:
            if character in scorer.char_rows:
                found += scorer.char_entries[scorer.char_rows[character]]
        credit = PARTIAL_CREDIT * weight * (found / len(text))
        if token_id is not None:
            one_hot = np.zeros(len(scorer.weights))
            one_hot[token_id] = 1.0
            credit *= 1.0 - scorer.entry_tokens @ one_hot
        covered += credit
    coverage = covered / query.weight
    credit_by_token = known_weights
    characters = frozenset("".join(text for text, *_ in chinese))
    if characters:
        shares = np.zeros(len(scorer.weights))
        for character in characters:
            if character in scorer.char_tokens:
                ids, occurrences = scorer.char_tokens[character]
                shares[ids] += occurrences
        shares /= scorer.token_length
        shares[scorer.chinese == 0] = 0.0
        shares[known] = 0.0
        credit_by_token = known_weights + PARTIAL_CREDIT * scorer.weights * shares
    found_weight = scorer.form_tokens @ credit_by_token
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(found_weight > 0, found_weight / scorer.doc_weights, 0.0)
        covered_forms = coverage[scorer.form_entry]
        f1 = np.where(
            precision > 0, 2 * covered_forms * precision / (covered_forms + precision), 0.0
        )
    result: np.ndarray = np.round(np.minimum(f1, 1.0), 4)
    return result


@pytest.mark.parametrize("question", QUESTIONS)
def test_faq_relevance_is_the_plain_formula(faq: FaqIndex, question: str) -> None:
    query = faq.lexicon.query(query_tokens(question))
    relevance, _ = faq.lexical_scores(query_tokens(question))
    if query.known:
        assert relevance.tobytes() == plain_form_relevance(faq, query).tobytes()


@pytest.mark.parametrize("question", QUESTIONS)
def test_bm25_scores_are_bm25s_own(faq: FaqIndex, question: str) -> None:
    lexicon: Lexicon = faq.lexicon
    known = lexicon.query(query_tokens(question)).known
    if not known:
        assert lexicon.candidates(known, 64) == []
        return
    assert lexicon.bm25 is not None
    expected = lexicon.bm25.get_scores_from_ids(list(known))
    candidates = dict(lexicon.candidates(known, 64))
    assert candidates
    for form, score in candidates.items():
        assert score == float(expected[form])


def test_a_question_is_tokenized_as_tokenize_does() -> None:
    for question in (*QUESTIONS, "订单" * 600):
        assert tokenize_question(question) == tuple(tokenize(question))
        assert tokenize_question(question) == tuple(tokenize(question))  # remembered


def test_one_query_vector_is_normalised_as_a_batch_row() -> None:
    rng = np.random.default_rng(7)
    for dim in (3, 16, 512):
        for scale in (1e-3, 1.0, 1e3):
            vector = (rng.standard_normal(dim) * scale).astype(np.float32)
            assert check_query(dim, vector).tobytes() == normalise(vector[None, :])[0].tobytes()
        zero = np.zeros(dim, dtype=np.float32)
        assert check_query(dim, zero).tobytes() == zero.tobytes()


def _vote_as_it_was(forms: np.ndarray, starts: np.ndarray, top: int | None) -> np.ndarray:
    """The forms' vote before the kept grid: padding built per query, ``-inf`` zeroed."""
    counts = np.diff(np.append(starts, len(forms)))
    width = np.arange(int(counts.max()))
    padded = np.where(
        width[None, :] < counts[:, None],
        forms[np.minimum(starts[:, None] + width[None, :], len(forms) - 1)],
        -np.inf,
    )
    ranked = np.cumsum(np.nan_to_num(-np.sort(-padded, axis=1), neginf=0.0), axis=1)
    voters = counts if top is None else np.minimum(counts, top)
    scores: np.ndarray = ranked[np.arange(len(counts)), voters - 1] / voters
    return scores


def test_the_forms_vote_with_a_kept_grid_as_before() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 9, size=40)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cosines = rng.uniform(-0.2, 1.0, int(counts.sum())).astype(np.float32)
    hubness = rng.normal(0, 0.05, len(cosines))
    grid = FormGrid.of(starts, len(cosines))
    for voting in (FormVoting(2, 0.5), FormVoting(3, 0.0), FormVoting(None, 1.0)):
        voted, forms = entry_cosine(cosines, hubness, starts, voting, grid)
        assert voted.tobytes() == _vote_as_it_was(forms, starts, voting.top).tobytes()
    voted, forms = entry_cosine(cosines, hubness, starts, None, grid)
    assert voted.tolist() == [max(forms[s : s + c]) for s, c in zip(starts, counts, strict=True)]


def plain_hybrid_faq(
    scoring: Scoring, snapshot: Snapshot, query: str, top_k: int, vector: np.ndarray
) -> list[FaqHit]:
    """``Scoring.hybrid_faq`` as first written: every entry's vote and BM25 computed, and
    the relevance and the ranking key fused separately (the hits then picked alike)."""
    faq, fusion = snapshot.faq, scoring.fusion
    assert snapshot.faq_vectors is not None and fusion is not None
    starts = faq.scorer.entry_starts
    similarities = snapshot.faq_vectors.similarities(vector)
    voted, cosine_forms = entry_cosine(
        similarities,
        snapshot.faq_hubness,
        starts,
        scoring.form_voting.get(detect_language(query)),
    )
    scores: dict[int, float] = {}
    if fusion.retrievers == "dense":
        form_relevance = np.zeros(len(faq.forms))
    else:
        form_relevance, scores = faq.lexical_scores(query_tokens(query))
    bm25_forms = np.zeros(len(faq.forms))
    if scores:
        bm25_forms[list(scores)] = list(scores.values())
    lexical = np.maximum.reduceat(form_relevance, starts)
    bm25 = np.maximum.reduceat(bm25_forms, starts)
    best = np.maximum.reduceat(similarities, starts)
    relevance = fusion.fuse(lexical, bm25, best)[0]
    rank_key = fusion.fuse(lexical, bm25, voted)[1]
    dense = fusion.calibrate(best)
    return ranked_faq_hits(
        faq, relevance, rank_key, lexical, dense, form_relevance, scores, cosine_forms, top_k
    )


@pytest.mark.parametrize(
    "config",
    [
        RetrievalConfig(dense_floor=0.2, dense_ceiling=0.9),
        RetrievalConfig(dense_floor=0.2, dense_ceiling=0.9, fusion="rrf"),
        RetrievalConfig(dense_floor=0.2, dense_ceiling=0.9, retrievers="dense"),
    ],
    ids=["weighted", "rrf", "dense"],
)
def test_hybrid_faq_ranks_as_the_plain_fusion(config: RetrievalConfig) -> None:
    entries = read_faq_file(DEMO / "faq.jsonl") + read_faq_file(DEMO / "faq_en.jsonl")
    index = KnowledgeIndex(embedder=ConceptEmbedder(), retrieval=config, calibrate=False)
    index.rebuild(entries, [])
    snapshot = index._snapshot
    assert snapshot.faq_vectors is not None
    hubness = form_hubness(snapshot.faq_vectors.matrix, snapshot.faq.scorer.form_entry)
    snapshot = dataclasses.replace(snapshot, faq_hubness=hubness)
    questions = [q for q in QUESTIONS if q] + [entry.question for entry in entries[::3]]
    vectors = index.embedder.embed(questions)  # type: ignore[union-attr]
    profiles: list[dict[str, FormVoting]] = [
        {"zh": FormVoting(2, 0.5)},  # the fitted profile: Chinese votes, English best form
        {"zh": FormVoting(1, 0.5), "en": FormVoting(None, 1.0)},
        {},  # every language by its best form
    ]
    for profile in profiles:
        scoring = dataclasses.replace(index._scoring, form_voting=profile)
        for question, vector in zip(questions, vectors, strict=True):
            for top_k in (3, len(entries)):
                expected = plain_hybrid_faq(scoring, snapshot, question, top_k, vector)
                found = scoring.hybrid_faq(snapshot, question, top_k, vector)
                assert [(h.entry.id, h.score, h.relevance, h.matched) for h in found] == [
                    (h.entry.id, h.score, h.relevance, h.matched) for h in expected
                ]
