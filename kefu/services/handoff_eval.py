"""How well an app's hand-over triggers decide, turn by turn, on labelled dialogs.

A dialog file (JSONL) holds one dialog a line::

    {"id": "zh-03", "lang": "zh", "kind": "explicit", "split": "dev",
     "turns": [{"text": "我的订单怎么还没发货", "handoff": false},
               {"text": "你们有真人客服吗？我想跟真人说", "handoff": true}]}

``handoff`` says whether a human should take over at that turn. Each dialog is played as one
conversation in a :class:`~kefu.services.sandbox.Sandbox` (dialog state, streaks and flows
carry from turn to turn; tool calls answer "not recorded", as a failing system would; the
conversation stays with the bot after a hand-over, so every turn is decided). The bot's
decision for a turn is "hand over" when its route is ``handoff`` or ``ticket``. Precision,
recall and F1 of that decision are reported overall, per language, per kind and per split,
with the confusion counts and every misclassified turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kefu.core.errors import InvalidParam
from kefu.core.jsonl import read_jsonl
from kefu.services.replay import HANDOFF_ROUTES
from kefu.services.sandbox import Sandbox

__all__ = [
    "Dialog",
    "LabelledTurn",
    "TurnVerdict",
    "evaluate_handoff",
    "read_dialogs",
    "scores",
    "summarise",
]


@dataclass(frozen=True, slots=True)
class LabelledTurn:
    text: str
    handoff: bool


@dataclass(frozen=True, slots=True)
class Dialog:
    id: str
    lang: str
    kind: str
    split: str
    turns: tuple[LabelledTurn, ...]


@dataclass(frozen=True, slots=True)
class TurnVerdict:
    """One customer turn: the label, and what the app decided."""

    dialog: Dialog
    turn: int  # 1-based
    text: str
    expected: bool
    handed_over: bool
    route: str
    reason: str | None

    @property
    def right(self) -> bool:
        return self.expected == self.handed_over


def read_dialogs(path: Path) -> list[Dialog]:
    """The dialogs of a JSONL file; a bad line is an ``InvalidParam`` naming it."""
    dialogs = []
    for line, row in read_jsonl(path):
        turns = row.get("turns") if isinstance(row, dict) else None
        if not isinstance(turns, list) or not turns:
            raise InvalidParam(f"{path}, line {line}: expected {{id, lang, turns: [...]}}")
        labelled = []
        for number, turn in enumerate(turns, start=1):
            text = turn.get("text") if isinstance(turn, dict) else None
            handoff = turn.get("handoff") if isinstance(turn, dict) else None
            if not isinstance(text, str) or not text.strip() or not isinstance(handoff, bool):
                raise InvalidParam(
                    f"{path}, line {line}, turn {number}: expected {{text, handoff: true|false}}"
                )
            labelled.append(LabelledTurn(text, handoff))
        dialogs.append(
            Dialog(
                id=str(row.get("id") or f"line-{line}"),
                lang=str(row.get("lang", "")),
                kind=str(row.get("kind", "")),
                split=str(row.get("split", "")),
                turns=tuple(labelled),
            )
        )
    if not dialogs:
        raise InvalidParam(f"{path}: no dialogs")
    return dialogs


async def evaluate_handoff(
    sandbox: Sandbox, dialogs: Iterable[Dialog], on_turn: Callable[[], None] | None = None
) -> list[TurnVerdict]:
    """Play every dialog in ``sandbox``; one verdict per customer turn."""
    verdicts = []
    for dialog in dialogs:
        sandbox.tape.start_conversation(())
        state: dict[str, Any] | None = None
        for number, turn in enumerate(dialog.turns, start=1):
            decided = await sandbox.turn(
                turn.text, state, conversation_id=f"eval-{dialog.id}", user=f"eval-{dialog.id}"
            )
            state = decided.dialog
            verdicts.append(
                TurnVerdict(
                    dialog=dialog,
                    turn=number,
                    text=turn.text,
                    expected=turn.handoff,
                    handed_over=decided.route in HANDOFF_ROUTES,
                    route=decided.route,
                    reason=decided.handoff_reason,
                )
            )
            if on_turn is not None:
                on_turn()
    return verdicts


def scores(verdicts: list[TurnVerdict]) -> dict[str, Any]:
    """Precision, recall and F1 of "hand over now", with the confusion counts."""
    tp = sum(v.expected and v.handed_over for v in verdicts)
    fp = sum(not v.expected and v.handed_over for v in verdicts)
    fn = sum(v.expected and not v.handed_over for v in verdicts)
    tn = sum(not v.expected and not v.handed_over for v in verdicts)
    precision = tp / (tp + fp) if tp + fp else 1.0  # nothing handed over: nothing wrongly
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "turns": len(verdicts),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / len(verdicts) if verdicts else 0.0,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def summarise(verdicts: list[TurnVerdict]) -> dict[str, Any]:
    """Scores overall and per language, kind and split, and the misclassified turns."""
    groups: dict[str, list[TurnVerdict]] = {}
    for verdict in verdicts:
        dialog = verdict.dialog
        for name in (f"lang={dialog.lang}", f"kind={dialog.kind}", f"split={dialog.split}"):
            groups.setdefault(name, []).append(verdict)
    return {
        "dialogs": len({v.dialog.id for v in verdicts}),
        **scores(verdicts),
        "groups": {name: scores(group) for name, group in sorted(groups.items())},
        "reasons": _reasons(verdicts),
        "misclassified": [
            {
                "dialog": v.dialog.id,
                "turn": v.turn,
                "text": v.text,
                "expected": v.expected,
                "handed_over": v.handed_over,
                "route": v.route,
                "reason": v.reason,
            }
            for v in verdicts
            if not v.right
        ],
    }


def _reasons(verdicts: list[TurnVerdict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for verdict in verdicts:
        if verdict.handed_over:
            reason = verdict.reason or "handoff"
            counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))
