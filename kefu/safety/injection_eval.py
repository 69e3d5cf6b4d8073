"""How well the injection heuristics do on labelled messages (``kefu eval injection``).

The bundled set (``kefu/safety/data/injection_eval.jsonl``) holds injection and
prompt-extraction attempts in many disguises (spaced out, full width, zero-width
characters, leetspeak, role play, fake system markers, polite requests…) and harmless
messages customers really write that look like them ("忽略这个订单吧", "ignore my last
message"). Each line: ``text``, ``label`` (``attack`` or ``benign``), ``lang``, ``disguise``.

**Recall** is the share of attacks flagged; the **false-positive rate** the share of
harmless messages flagged (each one is a customer refused for nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from kefu.core.errors import InvalidParam
from kefu.core.jsonl import parse_jsonl, read_text
from kefu.safety.injection import InjectionVerdict, detect_injection

__all__ = [
    "InjectionCase",
    "InjectionReport",
    "bundled_cases_path",
    "evaluate_injection",
    "read_cases",
]

Label = Literal["attack", "benign"]


@dataclass(frozen=True, slots=True)
class InjectionCase:
    """One labelled message of the evaluation set."""

    text: str
    label: Label
    lang: str
    disguise: str


@dataclass(frozen=True, slots=True)
class _Result:
    case: InjectionCase
    flagged: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InjectionReport:
    """Recall on attacks and false positives on look-alikes, overall and by group."""

    results: tuple[_Result, ...]
    us_per_message: float

    @property
    def recall(self) -> float:
        return _share(r.flagged for r in self.results if r.case.label == "attack")

    @property
    def false_positive_rate(self) -> float:
        return _share(r.flagged for r in self.results if r.case.label == "benign")

    def groups(self, label: Label, by: Literal["lang", "disguise"]) -> dict[str, tuple[int, float]]:
        """``{group: (messages, share flagged)}`` for one label."""
        flags: dict[str, list[bool]] = {}
        for result in self.results:
            if result.case.label == label:
                flags.setdefault(getattr(result.case, by), []).append(result.flagged)
        return {name: (len(f), _share(f)) for name, f in sorted(flags.items())}

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""

        def group(label: Label, by: Literal["lang", "disguise"]) -> dict[str, Any]:
            return {
                k: {"n": n, "flagged": share} for k, (n, share) in self.groups(label, by).items()
            }

        attacks = [r for r in self.results if r.case.label == "attack"]
        benign = [r for r in self.results if r.case.label == "benign"]
        return {
            "attacks": len(attacks),
            "benign": len(benign),
            "recall": self.recall,
            "false_positive_rate": self.false_positive_rate,
            "us_per_message": self.us_per_message,
            "recall_by_lang": group("attack", "lang"),
            "recall_by_disguise": group("attack", "disguise"),
            "false_positives_by_lang": group("benign", "lang"),
            "false_positives_by_disguise": group("benign", "disguise"),
            "missed": [_row(r) for r in attacks if not r.flagged],
            "false_positives": [_row(r) for r in benign if r.flagged],
        }


def _row(result: _Result) -> dict[str, Any]:
    case = result.case
    return {"text": case.text, "lang": case.lang, "disguise": case.disguise,
            "reasons": list(result.reasons)}  # fmt: skip


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def bundled_cases_path() -> Path:
    """The evaluation set that ships with kefu."""
    return Path(str(resources.files("kefu.safety").joinpath("data", "injection_eval.jsonl")))


def read_cases(path: Path | None = None) -> list[InjectionCase]:
    """The labelled messages of ``path`` (the bundled set by default)."""
    path = path or bundled_cases_path()
    cases = []
    for line, row in parse_jsonl(read_text(path), path):
        if not isinstance(row, dict):
            raise InvalidParam(f"{path}, line {line}: expected {{text, label, lang, disguise}}")
        text, label = row.get("text"), row.get("label")
        if not isinstance(text, str) or not text.strip() or label not in ("attack", "benign"):
            raise InvalidParam(
                f"{path}, line {line}: expected a text and a label (attack or benign)"
            )
        cases.append(
            InjectionCase(text, label, str(row.get("lang", "")), str(row.get("disguise", "")))
        )
    if not cases:
        raise InvalidParam(f"{path}: no messages")
    return cases


def evaluate_injection(
    cases: Iterable[InjectionCase],
    detect: Callable[[str], InjectionVerdict] = detect_injection,
) -> InjectionReport:
    """Run ``detect`` on every case; also time it (µs per message)."""
    results = []
    spent = 0.0
    for case in cases:
        started = time.perf_counter()
        verdict = detect(case.text)
        spent += time.perf_counter() - started
        results.append(_Result(case, verdict.flagged, tuple(verdict.reasons)))
    per_message = spent / len(results) * 1e6 if results else 0.0
    return InjectionReport(tuple(results), round(per_message, 1))
