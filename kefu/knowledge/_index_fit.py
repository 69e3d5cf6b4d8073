"""What a knowledge index fits at build time on its own knowledge: the FAQ thresholds per
language (``calibration.py``, on held-out FAQ questions), the FAQ entry classifier fused with
retrieval (``faq_classifier.py``) and the passage thresholds (``_passage_trials.py``).

Every fit matches as a turn matches (``_index_match.py``): a threshold read off other
scores would answer at the wrong rate.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kefu.core.errors import KefuError
from kefu.core.types import ChunkHit, FaqEntry, FaqHit
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._faq_fusion import form_hubness
from kefu.knowledge._index_match import (
    PASSAGE_COVERAGE_EXPONENT,
    Scoring,
    lexical_passages,
    query_tokens,
)
from kefu.knowledge._index_snapshot import Snapshot
from kefu.knowledge._passage_trials import fit_passage_thresholds
from kefu.knowledge.calibration import FaqCalibration, HeldOutMatcher, calibrate_faq
from kefu.knowledge.classifier_encoder import ClassifierEncoder, english_faq, form_vectors
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.faq_classifier import (
    ClassifierFusion,
    EntryClassifierTrainer,
    fit_fusion,
    wants_classifier,
)
from kefu.knowledge.passage_calibration import TOP_K as CALIBRATION_TOP_K
from kefu.knowledge.passage_calibration import PassageCalibration
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex

__all__ = ["IndexFit", "calibrated"]

# The index's own logger: these steps log as they did before they left index.py.
logger = logging.getLogger("kefu.knowledge.index")


@dataclass(frozen=True, slots=True)
class IndexFit:
    """What the build-time fits read of the index (see ``KnowledgeIndex``'s arguments)."""

    scoring: Scoring
    calibrate: bool  # fit the FAQ and passage thresholds (off: the configured ones)
    embedder: Embedder | None
    faq_classifier: EntryClassifierTrainer | None
    classifier_encoder: ClassifierEncoder | None
    index_dir: Path | None  # where the second encoder's form vectors are cached
    reranked: bool  # a reranker scores the passages (on its own scale)
    embed: Callable[[Sequence[str]], np.ndarray]  # through the build's embedding cache
    calibration_texts: list[str]  # set by the passage fit: the texts it embedded


def calibrated(
    fit: IndexFit,
    snapshot: Snapshot,
    saved: FaqCalibration | None = None,
    fusion: ClassifierFusion | None = None,
    extra_encoder: Embedder | None = None,
    passages: PassageCalibration | None = None,
) -> Snapshot:
    """``snapshot`` with its forms' hubness, its FAQ classifier and its FAQ thresholds
    (``saved`` and ``fusion`` with its second encoder, else fitted now on held-out FAQ
    questions) and its passage thresholds (``passages``, else fitted now on questions
    written from the knowledge: ``_passage_trials.py``)."""
    hubness = None
    if snapshot.faq_vectors is not None and fit.scoring.form_voting:
        hubness = snapshot.faq_hubness  # read with a saved index
        if hubness is None:
            hubness = form_hubness(snapshot.faq_vectors.matrix, snapshot.faq.scorer.form_entry)
    snapshot = dataclasses.replace(snapshot, faq_hubness=hubness)
    if passages is None:
        passages = fit_passages(fit, snapshot) if fit.calibrate else None
    snapshot = dataclasses.replace(snapshot, passage_calibration=passages or PassageCalibration({}))
    if saved is not None:
        return dataclasses.replace(
            snapshot, calibration=saved, faq_fusion=fusion, faq_extra_encoder=extra_encoder
        )
    held_out: HeldOutMatcher = functools.partial(_held_out, fit.scoring, snapshot)
    vectors = snapshot.faq_vectors
    if (
        fit.faq_classifier is not None
        and vectors is not None
        and wants_classifier(snapshot.faq.entries)
    ):
        encoder, extra = _classifier_encoding(fit, snapshot.faq.forms)
        fitted = fit_fusion(
            snapshot.faq.entries,
            snapshot.faq.forms,
            snapshot.faq.scorer.form_entry,
            vectors.matrix,
            fit.faq_classifier,
            functools.partial(_held_out_scores, fit.scoring, snapshot),
            extra,
            encoder.name if encoder is not None else None,
        )
        held_out, fusion = fitted.held_out, fitted.fusion
        if fusion is not None and fusion.extra_encoder is not None:
            extra_encoder = encoder
    calibration = FaqCalibration({})
    if fit.calibrate:
        calibration = calibrate_faq(snapshot.faq.entries, held_out)
    return dataclasses.replace(
        snapshot, calibration=calibration, faq_fusion=fusion, faq_extra_encoder=extra_encoder
    )


def fit_passages(fit: IndexFit, snapshot: Snapshot) -> PassageCalibration:
    """The passage thresholds fitted on questions written from the knowledge, searched
    as a turn searches (``_passage_trials.py``); none with a reranker (its own scale, a
    model call per question) or remote passage vectors (no document can be left out)."""
    if fit.reranked:
        return PassageCalibration({}, "a reranker scores the passages")
    stored = snapshot.chunk_vectors
    if stored is not None and not isinstance(stored, EmbeddedVectorIndex):
        return PassageCalibration({}, "the passage vectors are in a remote store")
    index, scoring = snapshot.chunks, fit.scoring
    masks: dict[str, np.ndarray] = {}
    fit.calibration_texts.clear()

    def language_mask(language: str) -> np.ndarray:
        if language not in masks:
            masks[language] = index.allowed({"language": language})
        return masks[language]

    def rank(text: str, vector: np.ndarray | None, allowed: np.ndarray) -> list[ChunkHit]:
        top = CALIBRATION_TOP_K
        if vector is None or not allowed.any():
            return lexical_passages(index, text, top, allowed)
        return scoring.hybrid_passages(snapshot, text, top, allowed, None, vector)

    def lexical(text: str, _: np.ndarray | None, allowed: np.ndarray) -> list[ChunkHit]:
        return lexical_passages(index, text, CALIBRATION_TOP_K, allowed)

    def vectors(texts: Sequence[str]) -> list[np.ndarray | None]:
        dense = [text for text in texts if stored is not None and scoring.dense_for(text)]
        if not dense:
            return [None] * len(texts)
        assert fit.embedder is not None  # passage vectors come from it
        rows = {text: row for row, text in enumerate(snapshot.faq.forms)}
        matrix = snapshot.faq_vectors.matrix if snapshot.faq_vectors is not None else None
        missing = list(dict.fromkeys(t for t in dense if t not in rows or matrix is None))
        # through the embedding cache, kept by the rebuild: a rebuild embeds only new
        # headings (one call for all of them, ~1 ms a text with the default encoder)
        embedded = dict(zip(missing, fit.embed(missing), strict=True))
        fit.calibration_texts[:] = missing
        found: list[np.ndarray | None] = []
        for text in texts:
            if text not in dense:
                found.append(None)
            elif text in embedded:
                found.append(embedded[text])
            else:
                assert matrix is not None
                found.append(matrix[rows[text]])
        return found

    try:
        return fit_passage_thresholds(
            index.chunks,
            snapshot.faq.entries,
            language_mask,
            rank,
            lexical,
            vectors,
            PASSAGE_COVERAGE_EXPONENT,
        )
    except KefuError as exc:  # a remote embedder failed: the configured thresholds
        logger.warning("passage thresholds not calibrated: %s", exc)
        return PassageCalibration({}, f"the embedder failed: {exc}")


def _classifier_encoding(
    fit: IndexFit, forms: Sequence[str]
) -> tuple[Embedder | None, np.ndarray | None]:
    """The FAQ classifier's second encoder and its form vectors, for an English FAQ
    when one is installed; (None, None) otherwise, or if it fails (logged)."""
    if fit.classifier_encoder is None or not english_faq(forms):
        return None, None
    encoder = fit.classifier_encoder()
    if encoder is None or (fit.embedder is not None and encoder.name == fit.embedder.name):
        return None, None  # not installed, or already the index's own encoder
    try:
        return encoder, form_vectors(encoder, forms, fit.index_dir)
    except Exception as exc:  # an optional extra: the classifier reads one encoder
        logger.warning("FAQ classifier: %s failed, not used: %s", encoder.name, exc)
        return None, None


def _held_out(
    scoring: Scoring,
    snapshot: Snapshot,
    kept: Sequence[FaqEntry],
    asked: Sequence[tuple[str, int, int | None]],
) -> list[tuple[float, int | None]]:
    """Match ``asked`` (text, the form's vector row) against an index of ``kept`` only,
    reusing the snapshot's form vectors: (top relevance, the entry in ``kept``)."""
    held = _held_snapshot(scoring, snapshot, kept)
    position = {id(entry): number for number, entry in enumerate(held.faq.entries)}
    found: list[tuple[float, int | None]] = []
    for text, row, _ in asked:
        hits = _held_match(scoring, held, snapshot, text, row, 1)
        found.append((hits[0].relevance, position[id(hits[0].entry)]) if hits else (0.0, None))
    return found


def _held_out_scores(
    scoring: Scoring,
    snapshot: Snapshot,
    kept: Sequence[FaqEntry],
    asked: Sequence[tuple[str, int, int | None]],
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_held_out` for every kept entry: (relevance, ranking key), questions ×
    kept entries (0 where an entry is no hit)."""
    held = _held_snapshot(scoring, snapshot, kept)
    position = {id(entry): number for number, entry in enumerate(held.faq.entries)}
    relevance = np.zeros((len(asked), len(kept)))
    rank_key = np.zeros((len(asked), len(kept)))
    for number, (text, row, _) in enumerate(asked):
        for hit in _held_match(scoring, held, snapshot, text, row, len(kept)):
            relevance[number, position[id(hit.entry)]] = hit.relevance
            rank_key[number, position[id(hit.entry)]] = hit.score
    return relevance, rank_key


def _held_match(
    scoring: Scoring, held: Snapshot, snapshot: Snapshot, text: str, row: int, top_k: int
) -> list[FaqHit]:
    """``text`` (the form at ``row`` of ``snapshot``) matched against ``held``."""
    if snapshot.faq_vectors is not None and scoring.dense_for(text):
        return scoring.hybrid_faq(held, text, top_k, snapshot.faq_vectors.matrix[row])
    hits = held.faq.match(query_tokens(text), top_k)
    # the lexical path ranks by relevance: that is its ranking key here
    return [dataclasses.replace(hit, score=hit.relevance) for hit in hits]


def _held_snapshot(scoring: Scoring, snapshot: Snapshot, kept: Sequence[FaqEntry]) -> Snapshot:
    """An index of ``kept`` only, reusing the snapshot's form vectors (no classifier)."""
    faq = FaqIndex.create(kept)
    full = snapshot.faq_vectors
    held = Snapshot(faq, snapshot.chunks, None)
    if full is not None:
        row_of = {text: row for row, text in reversed(list(enumerate(snapshot.faq.forms)))}
        vectors = EmbeddedVectorIndex(full.dim)
        if faq.forms:
            rows = full.matrix[[row_of[text] for text in faq.forms]]
            vectors.add([str(i) for i in range(len(faq.forms))], rows)
        hubness = None
        if scoring.form_voting:
            hubness = form_hubness(vectors.matrix, faq.scorer.form_entry)
        held = Snapshot(faq, snapshot.chunks, None, vectors, None, hubness)
    return held
