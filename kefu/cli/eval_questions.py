"""``kefu eval questions``: an app against questions written the way customers type.

Each question (JSONL: ``text``, ``lang``, ``kind``, ``accept``) is asked as a new customer
through the chat service, in a throw-away data dir, and its outcome compared with what
is acceptable:

* ``faq:<id>`` — answered by that FAQ entry (or an annotation with that id);
* ``passage:<document>`` — a passage of that document;
* ``flow:<name>`` — that flow started; ``handoff`` — handed to a human;
* ``decline`` — the fallback, or a polite refusal: the bot said it cannot help.

A clarifying question ("which of these do you mean? 1. … 2. …", when two FAQ answers fit
almost equally) is **right** when the wanted answer is one of its options — the customer
picks it with one more message — and confidently wrong when it is not.

**Right** means an acceptable outcome. **Confidently wrong** means an answer that is not
acceptable: a wrong FAQ, passage or flow. That is worse than a decline, because the
customer is misled. **Wrongly declined** means the bot declined a question it should
have answered.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from kefu.cli.errors import fail
from kefu.core.errors import InvalidParam, KefuError
from kefu.core.jsonl import read_jsonl
from kefu.core.settings import Settings
from kefu.services.chat import ChatRequest
from kefu.services.runtime import Runtime, demo_app_file

__all__ = ["Outcome", "questions_command", "read_questions", "run_questions"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DECLINED_ROUTES = {"fallback", "refused", "blocked"}


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    lang: str
    kind: str
    accept: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    question: Question
    got: str  # faq:<id> | passage:<doc> | flow:<name> | handoff | decline | <route>

    @property
    def right(self) -> bool:
        if self.got.startswith("clarify:"):
            options = self.got.removeprefix("clarify:").split("|")
            return any(f"faq:{option}" in self.question.accept for option in options)
        return self.got in self.question.accept

    @property
    def confidently_wrong(self) -> bool:
        return not self.right and self.got != "decline"

    @property
    def wrongly_declined(self) -> bool:
        return not self.right and self.got == "decline"


def read_questions(path: Path) -> list[Question]:
    questions = []
    for line, row in read_jsonl(path):
        accept = row.get("accept") if isinstance(row, dict) else None
        text = row.get("text") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip() or not isinstance(accept, list):
            raise InvalidParam(f"{path}, line {line}: expected {{text, accept: [...]}}")
        questions.append(
            Question(text, str(row.get("lang", "")), str(row.get("kind", "")), tuple(accept))
        )
    if not questions:
        raise InvalidParam(f"{path}: no questions")
    return questions


async def run_questions(
    runtime: Runtime, app_name: str, questions: list[Question], progress: Progress | None = None
) -> list[Outcome]:
    app = runtime.apps.get(app_name)
    task = progress.add_task("questions", total=len(questions)) if progress else None
    outcomes = []
    for number, question in enumerate(questions):
        # A new customer each: no conversation carries over from one question to the next.
        request = ChatRequest(app=app, user=f"eval-{number}", query=question.text)
        turn = await runtime.chat.prepare(request)
        result = await runtime.chat.answer(turn)
        outcomes.append(Outcome(question, _outcome(result.route, turn.ctx)))
        if progress is not None and task is not None:
            progress.advance(task)
    return outcomes


def _outcome(route: str, ctx: Any) -> str:
    if route in DECLINED_ROUTES:
        return "decline"
    if route in ("faq", "annotation"):
        return f"faq:{ctx.faq_hits[0].entry.id}"
    if route == "clarify":
        return "clarify:" + "|".join(hit.entry.id for hit in ctx.faq_hits)
    if route == "passage":
        return f"passage:{ctx.passages[0].chunk.document_name}"
    if route == "flow" and ctx.flow_step is not None:
        return f"flow:{ctx.flow_step.flow}"
    if route in ("handoff", "ticket"):
        return "handoff"
    return route


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    def share(flag: str, subset: list[Outcome]) -> float:
        return sum(getattr(o, flag) for o in subset) / len(subset) if subset else 0.0

    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(f"lang={outcome.question.lang}", []).append(outcome)
        groups.setdefault(f"kind={outcome.question.kind}", []).append(outcome)
    return {
        "questions": len(outcomes),
        "right": share("right", outcomes),
        "confidently_wrong": share("confidently_wrong", outcomes),
        "wrongly_declined": share("wrongly_declined", outcomes),
        "groups": {
            name: {"n": len(group), "right": share("right", group)}
            for name, group in sorted(groups.items())
        },
        "misses": [
            {"text": o.question.text, "got": o.got, "accept": list(o.question.accept)}
            for o in outcomes
            if not o.right
        ],
        "outcomes": dict(Counter(o.got.split(":")[0] for o in outcomes)),
    }


def questions_command(
    questions_file: Annotated[
        Path | None,
        typer.Option("--questions", help="JSONL questions [the demo's natural_questions.jsonl]"),
    ] = None,
    app_file: Annotated[
        Path | None, typer.Option("--app", help="app YAML [the bundled demo app]", dir_okay=False)
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Ask an app questions written the way customers type; how many it gets right, and
    how many it answers confidently wrong (worse than declining)."""
    try:
        app_path = app_file or demo_app_file()
        path = questions_file or app_path.parent / app_path.stem / "natural_questions.jsonl"
        questions = read_questions(path)
        with tempfile.TemporaryDirectory(prefix="kefu-eval-") as data:
            settings = Settings().model_copy(update={"data_dir": Path(data)})
            runtime = Runtime.build(settings, [app_path])
            try:
                name = runtime.apps.all()[0].name
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=err,
                    disable=json_output,
                ) as progress:
                    outcomes = asyncio.run(run_questions(runtime, name, questions, progress))
            finally:
                runtime.close()
    except KefuError as exc:
        fail(exc.message)
    summary = summarise(outcomes)
    if json_output:
        out.print_json(json.dumps(summary, ensure_ascii=False))
        return
    table = Table(title=f"{path.name}: {summary['questions']} questions")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("right", f"{summary['right']:.1%}")
    table.add_row("confidently wrong", f"{summary['confidently_wrong']:.1%}")
    table.add_row("wrongly declined", f"{summary['wrongly_declined']:.1%}")
    for name, group in summary["groups"].items():
        table.add_row(f"  right, {name} (n={group['n']})", f"{group['right']:.1%}")
    out.print(table)
    for miss in summary["misses"]:
        out.print(f"  ✗ {miss['text']}  → {miss['got']}  (want {', '.join(miss['accept'])})")
