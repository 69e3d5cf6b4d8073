"""How an FAQ entry's forms (标准问 + 相似问) vote for it in dense matching, per language.

An entry's dense evidence used to be the cosine of its single best form. Two changes, both
fitted on held-out *training* data only (bench/faq_fusion_fit.py; docs/evaluation.md):

* **Aggregation**: the mean of the entry's best ``top`` form cosines (``None``: all its
  forms). Several forms that agree outvote one form that happens to share a phrase.
* **Hub penalty** (CSLS, Conneau et al. 2018): some forms sit close to everything (short,
  generic questions such as "Card arrival") and win queries they do not answer. A form's
  *hubness* is the mean cosine of its ``_HUB_NEIGHBOURS`` nearest forms of other entries,
  centred on the FAQ's mean; its cosine with a query is lowered by ``hub_penalty`` × that.

Per language, chosen by a grid (aggregation max / top-2 / top-3 / mean, penalty 0-1) on
training data only: English, BANKING77 training utterances not
used as FAQ variants (15 per intent) and leave-one-out over the demo's English FAQ
variants (three seeds); Chinese, leave-one-out over the BQ FAQ's own variants (two seeds)
and the demo's Chinese FAQ (three seeds). The evaluated queries (BANKING77 test, BQ's
held-out paraphrases, the demo's eval and natural questions) took no part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "PROFILES",
    "FormGrid",
    "FormVoting",
    "entry_cosine",
    "form_hubness",
    "form_voting",
    "load_hubness",
    "save_hubness",
    "votes_best_form",
]

_HUB_NEIGHBOURS = 10
_BLOCK = 1024  # forms compared at once when measuring hubness (memory: block × forms)


@dataclass(frozen=True, slots=True)
class FormVoting:
    """``top``: how many of an entry's best forms are averaged (None: all of them)."""

    top: int | None
    hub_penalty: float


# Fitted as the module docstring says (bench/faq_fusion_fit.py: mean held-out hit@1 at the
# app's dense weight 0.5, against 0.493 / 0.611 for the best form without a penalty).
# Chinese: the top 2 forms, penalty 0.5: 0.544, the best at that weight (every form with
# penalty 1.0: 0.541, but a mean over all forms dilutes a near-verbatim match when an
# entry's variants are different sub-questions, as on the demo FAQ). The entries are
# *ranked* by this vote; their relevance stays the best form's (see ``KnowledgeIndex``).
# English: a penalty of 1.0 scored 0.660, but nearly all of it on the demo's three 26-question
# sets (+2-3 questions each); on BANKING77's 1,155 held-out utterances it was +0.4 points,
# and it flipped a near-tie on the demo to the wrong entry. English keeps the best form.
PROFILES: dict[str, FormVoting] = {
    "zh": FormVoting(top=2, hub_penalty=0.5),
}
_BEST_FORM = FormVoting(top=1, hub_penalty=0.0)
_FITTED_FOR = "use-multilingual-v3"  # the encoder the profiles were fitted with


def form_voting(embedder_name: str | None) -> dict[str, FormVoting]:
    """The per-language profiles for ``embedder_name``: the fitted ones for the encoder
    they were fitted with; every other model votes with its best form (as before)."""
    return dict(PROFILES) if embedder_name == _FITTED_FOR else {}


def form_hubness(vectors: npt.NDArray[np.float32], form_entry: npt.NDArray[np.int64]) -> np.ndarray:
    """Per form: the mean cosine of its nearest forms of other entries, centred (F)."""
    count = len(vectors)
    hubness = np.zeros(count)
    if count == 0 or len(np.unique(form_entry)) < 2:
        return hubness
    for begin in range(0, count, _BLOCK):
        rows = slice(begin, min(count, begin + _BLOCK))
        similar = vectors[rows] @ vectors.T
        similar[form_entry[rows, None] == form_entry[None, :]] = -np.inf  # own entry
        others = np.count_nonzero(np.isfinite(similar), axis=1)
        k = int(min(_HUB_NEIGHBOURS, others.min()))
        nearest = -np.partition(-similar, k - 1, axis=1)[:, :k]
        hubness[rows] = nearest.mean(axis=1)
    result: np.ndarray = hubness - hubness.mean()
    return result


# Saved with the index: every form against every other costs O(forms²) — 2 s for 10k forms,
# 19 s for 30k on one core — which a restart should not pay again.
_HUBNESS_FILE = "faq_hubness.npy"


def save_hubness(hubness: np.ndarray, folder: Path) -> None:
    np.save(folder / _HUBNESS_FILE, np.asarray(hubness, dtype=np.float64), allow_pickle=False)


def load_hubness(folder: Path, forms: int) -> np.ndarray | None:
    """The hubness saved in ``folder`` if it is there and has one value per form."""
    path = folder / _HUBNESS_FILE
    if not path.is_file():
        return None
    hubness: np.ndarray = np.load(path, allow_pickle=False)
    return hubness if hubness.shape == (forms,) else None


@dataclass(frozen=True, slots=True)
class FormGrid:
    """Each entry's forms as one row of a padded matrix, for a vote of several forms: it
    depends only on where each entry's forms start, so an FAQ index works it out once
    (``FaqScorer``) rather than every query."""

    counts: np.ndarray  # E: how many forms it has
    gather: np.ndarray  # E × W: the form at each place of its row (clipped past its last)
    present: np.ndarray  # E × W: whether that place holds one of its forms
    rows: np.ndarray  # E: 0 … E-1

    @classmethod
    def of(cls, entry_starts: np.ndarray, forms: int) -> FormGrid:
        counts = np.diff(np.append(entry_starts, forms))
        width = np.arange(int(counts.max()) if len(counts) else 0)
        return cls(
            counts=counts,
            gather=np.minimum(entry_starts[:, None] + width[None, :], forms - 1),
            present=width[None, :] < counts[:, None],
            rows=np.arange(len(counts)),
        )


def votes_best_form(voting: FormVoting | None, hubness: np.ndarray | None) -> bool:
    """Whether :func:`entry_cosine` would give each entry its best form's plain cosine (no
    vote of several forms, no hub penalty): then a caller holding that maximum skips it."""
    voting = voting or _BEST_FORM
    return voting.top == 1 and (hubness is None or not voting.hub_penalty)


def entry_cosine(
    cosine_forms: np.ndarray,
    hubness: np.ndarray | None,
    entry_starts: np.ndarray,
    voting: FormVoting | None,
    grid: FormGrid | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(per entry: the dense score its forms vote, per form: the hub-corrected cosine);
    ``voting`` None: the best form's cosine. ``grid``: ``FormGrid.of(entry_starts, forms)``
    if the caller keeps one."""
    voting = voting or _BEST_FORM
    forms = cosine_forms.astype(np.float64)
    if hubness is not None and voting.hub_penalty:
        forms = forms - voting.hub_penalty * hubness
    if voting.top == 1:
        return np.maximum.reduceat(forms, entry_starts), forms
    if grid is None:
        grid = FormGrid.of(entry_starts, len(forms))
    padded = np.where(grid.present, forms[grid.gather], -np.inf)
    # Best first; the pads (-inf) sort last and a vote sums at most the entry's own forms,
    # so no prefix sum read below includes one.
    ranked = np.cumsum(-np.sort(-padded, axis=1), axis=1)
    counts = grid.counts
    voters = counts if voting.top is None else np.minimum(counts, voting.top)
    scores: np.ndarray = ranked[grid.rows, voters - 1] / voters
    return scores, forms
