"""τ²-bench retail tasks: the user's scenario, the gold actions, the required outputs.

``tasks.json`` and ``split_tasks.json`` come from τ²-bench (MIT); this reads the fields the
benchmark needs and says which file and task is wrong when one is malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.core.errors import ConfigError

__all__ = ["GoldAction", "Tau2Task", "load_tasks", "select_tasks"]


@dataclass(frozen=True, slots=True)
class GoldAction:
    """One tool call of the task's reference solution."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Tau2Task:
    """One task: who the user is and what they want; what a right episode leaves behind."""

    id: str
    instructions: dict[str, str]
    persona: str | None = None
    actions: tuple[GoldAction, ...] = ()
    outputs: tuple[str, ...] = ()  # τ²'s ``communicate_info``: must appear in the replies
    nl_assertions: tuple[str, ...] = ()  # graded by an LLM judge in τ²; reported, not graded
    reward_basis: tuple[str, ...] = field(default=("DB",))

    def user_scenario(self) -> str:
        """The scenario as the user simulator reads it (τ²'s layout of the instructions)."""
        parts = []
        if self.persona:
            parts.append(f"Persona:\n\t{self.persona}")
        for key, title in (
            ("domain", "Domain"),
            ("reason_for_call", "Reason for call"),
            ("known_info", "Known info"),
            ("unknown_info", "Unknown info"),
            ("task_instructions", "Task instructions"),
        ):
            text = self.instructions.get(key)
            if text:
                indented = "\n".join(f"\t{line}" for line in str(text).splitlines())
                parts.append(f"{title}:\n{indented}")
        return "\n".join(parts)


def _task(raw: Any, where: str) -> Tau2Task:
    try:
        scenario = raw["user_scenario"]
        instructions = scenario["instructions"]
        criteria = raw.get("evaluation_criteria") or {}
        if isinstance(instructions, str):
            instructions = {"task_instructions": instructions}
        return Tau2Task(
            id=str(raw["id"]),
            instructions={k: str(v) for k, v in instructions.items() if v is not None},
            persona=scenario.get("persona"),
            actions=tuple(
                GoldAction(str(a["name"]), dict(a.get("arguments") or {}))
                for a in criteria.get("actions") or []
            ),
            outputs=tuple(str(o) for o in criteria.get("communicate_info") or []),
            nl_assertions=tuple(str(a) for a in criteria.get("nl_assertions") or []),
            reward_basis=tuple(criteria.get("reward_basis") or ("DB",)),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"malformed task: {exc!r}", file=where) from None


def load_tasks(data_dir: Path) -> list[Tau2Task]:
    """Every task in ``data_dir/tasks.json``, in file order."""
    path = data_dir / "tasks.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read τ² tasks: {exc}", file=str(path)) from None
    if not isinstance(raw, list):
        raise ConfigError("expected a list of tasks", file=str(path))
    return [_task(item, f"{path} (task #{n})") for n, item in enumerate(raw)]


def select_tasks(
    tasks: list[Tau2Task], data_dir: Path, *, split: str | None, ids: list[str] | None
) -> list[Tau2Task]:
    """The tasks named by ``ids``, else those of ``split`` (``split_tasks.json``), else all."""
    by_id = {task.id: task for task in tasks}
    if ids:
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise ConfigError(f"no τ² task with id {', '.join(unknown)}", key="--tasks")
        return [by_id[i] for i in ids]
    if split is None:
        return tasks
    path = data_dir / "split_tasks.json"
    try:
        splits = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read τ² splits: {exc}", file=str(path)) from None
    if split not in splits:
        raise ConfigError(
            f"no split {split!r}; the file has {', '.join(sorted(splits))}", key="--split"
        )
    return [by_id[str(i)] for i in splits[split] if str(i) in by_id]
