"""Fine-tuning data from what kefu stored: conversations and annotations as chat-format
JSONL (``{"messages": [{"role": …, "content": …}, …]}``), the format OpenAI's fine-tuning
API and LoRA trainers (LLaMA-Factory, Unsloth, ms-swift) read, with personal data masked.

One example per conversation: the customer's messages as ``user``, the answers the bot
gave and the replies agents sent as ``assistant``, in order (consecutive messages of one
side joined). A bot answer is left out, with the question it answered, when it failed or
was stopped, when the customer disliked it (by default), or when its route is not wanted
(by default the fallback reply and the safety refusals, which teach a model nothing about
the business). An example must start with the customer and end with an answer. Each
annotation is one more example: its question and its curated answer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TextIO

from kefu.core.errors import NotFound
from kefu.core.settings import Settings
from kefu.safety.pii import mask_pii
from kefu.store import Store
from kefu.store.exports import ExportedTurn

__all__ = [
    "DEFAULT_SKIPPED_ROUTES",
    "ExportCounts",
    "ExportFilter",
    "RatingFilter",
    "annotation_example",
    "conversation_examples",
    "write_finetune",
]

RatingFilter = Literal["not-disliked", "liked", "all"]
DEFAULT_SKIPPED_ROUTES = frozenset({"fallback", "refused", "blocked"})
WAITING_ROUTE = "human"  # a customer message that waited for an agent: no bot answer


@dataclass(frozen=True, slots=True)
class ExportFilter:
    rating: RatingFilter = "not-disliked"
    routes: frozenset[str] | None = None  # None: every route but DEFAULT_SKIPPED_ROUTES
    agents: bool = True  # agents' replies in hand-overs
    system: str | None = None  # a system message at the start of every example


@dataclass(slots=True)
class ExportCounts:
    conversations: int = 0
    annotations: int = 0
    turns_kept: int = 0
    turns_skipped: int = 0
    skipped_by: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.turns_skipped += 1
        self.skipped_by[why] = self.skipped_by.get(why, 0) + 1


def _why_not(turn: ExportedTurn, wanted: ExportFilter) -> str | None:
    """Why a bot answer is left out (None: it is kept)."""
    if turn.status != "normal" or not turn.answer.strip():
        return "failed or stopped"
    routes: Collection[str] | None = wanted.routes
    if routes is not None and turn.route not in routes:
        return f"route {turn.route}"
    if routes is None and turn.route in DEFAULT_SKIPPED_ROUTES:
        return f"route {turn.route}"
    if wanted.rating == "not-disliked" and turn.rating == "dislike":
        return "disliked"
    if wanted.rating == "liked" and turn.rating != "like":
        return "not liked"
    return None


def _messages(
    turns: Iterable[ExportedTurn], wanted: ExportFilter, counts: ExportCounts
) -> list[dict[str, str]]:
    said: list[tuple[str, str]] = []
    for turn in turns:
        if turn.by_agent:
            if not wanted.agents or not turn.answer.strip():
                counts.skip("agent reply")
                continue
            said.append(("assistant", turn.answer))
            counts.turns_kept += 1
        elif turn.route == WAITING_ROUTE:  # the agent's reply, if any, follows
            said.append(("user", turn.query))
        elif (why := _why_not(turn, wanted)) is not None:
            counts.skip(why)
        else:
            said += [("user", turn.query), ("assistant", turn.answer)]
            counts.turns_kept += 1
    joined: list[list[str]] = []
    for role, text in said:
        text = mask_pii(text.strip())
        if not text:
            continue
        if joined and joined[-1][0] == role:
            joined[-1][1] += "\n" + text
        else:
            joined.append([role, text])
    while joined and joined[0][0] != "user":
        joined.pop(0)
    while joined and joined[-1][0] != "assistant":
        joined.pop()
    return [{"role": role, "content": text} for role, text in joined]


def _with_system(messages: list[dict[str, str]], system: str | None) -> dict[str, object]:
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    return {"messages": messages}


def conversation_examples(
    turns: Iterable[ExportedTurn], wanted: ExportFilter, counts: ExportCounts
) -> Iterator[dict[str, object]]:
    """One example per conversation with something left to learn from. ``turns`` come
    grouped by conversation, in order (as ``ExportRepository.turns`` reads them)."""
    for _, conversation in itertools.groupby(turns, key=lambda t: t.conversation_id):
        messages = _messages(conversation, wanted, counts)
        if messages:
            counts.conversations += 1
            yield _with_system(messages, wanted.system)


def annotation_example(question: str, answer: str, system: str | None) -> dict[str, object]:
    return _with_system(
        [
            {"role": "user", "content": mask_pii(question.strip())},
            {"role": "assistant", "content": mask_pii(answer.strip())},
        ],
        system,
    )


def write_finetune(
    settings: Settings,
    app_name: str,
    wanted: ExportFilter,
    window: tuple[datetime, datetime],
    out: TextIO,
    *,
    annotations: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ExportCounts:
    """Write the app's examples of ``window`` as JSONL to ``out`` (straight from the
    database: no app file needed); ``progress(done, total)`` after each turn read."""
    counts = ExportCounts()
    store = Store.open(settings.resolved_database_url())
    try:
        app = next((a for a in store.apps.list_apps() if a.name == app_name), None)
        if app is None:
            raise NotFound(f"no app named {app_name!r} in this database")
        total = store.exports.count_turns(app.id, *window)

        def read() -> Iterator[ExportedTurn]:
            for done, turn in enumerate(store.exports.turns(app.id, *window), 1):
                if progress is not None:
                    progress(done, total)
                yield turn

        for example in conversation_examples(read(), wanted, counts):
            out.write(json.dumps(example, ensure_ascii=False) + "\n")
        if annotations:
            for question, answer in store.exports.annotations(app.id):
                example = annotation_example(question, answer, wanted.system)
                out.write(json.dumps(example, ensure_ascii=False) + "\n")
                counts.annotations += 1
        return counts
    finally:
        store.close()
