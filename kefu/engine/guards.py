"""What the safety detectors say about a question or an answer, composed for the pipeline.

Verdicts are pure functions of the text and the app's word lists, so they are cached per
text: the same questions and the same FAQ answers come back again and again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kefu.safety.injection import detect_injection
from kefu.safety.pii import find_pii, mask_pii
from kefu.safety.sensitive import SensitiveWords

__all__ = ["InputVerdict", "judge_answer", "judge_input"]


@dataclass(frozen=True, slots=True)
class InputVerdict:
    route: Literal["blocked", "refused"] | None  # None: the question may go on
    masked: str  # the question with PII masked (for traces, prompts, storage)
    facts: dict[str, Any] = field(default_factory=dict)  # what the trace records


def judge_input(query: str, words: SensitiveWords | None, *, block_injection: bool) -> InputVerdict:
    facts: dict[str, Any] = {}
    pii = find_pii(query)
    masked = query
    if pii:
        facts["pii"] = sorted({hit.kind for hit in pii})
        masked = mask_pii(query)
    hits = words.find(query) if words is not None else []
    if hits:
        facts["sensitive_words"] = [{"word": h.word, "category": h.category} for h in hits]
        return InputVerdict("blocked", masked, facts)
    if block_injection:
        verdict = detect_injection(query)
        if verdict.reasons:
            facts["injection"] = {"score": round(verdict.score, 3), "reasons": verdict.reasons}
        if verdict.flagged:
            return InputVerdict("refused", masked, facts)
    return InputVerdict(None, masked, facts)


def judge_answer(answer: str, words: SensitiveWords | None) -> list[str]:
    """The sensitive words in an answer (none for a clean one)."""
    return [hit.word for hit in words.find(answer)] if words is not None else []
