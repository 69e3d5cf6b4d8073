"""Run τ²-bench retail tasks against a kefu app over HTTP and grade them as τ² does.

For each task: the gold state is computed once (fresh shop + gold writes). Each trial:
reset the shop, let the simulated customer talk to kefu (one conversation, the service API)
until it writes a stop token or ``max_turns`` customer messages were sent, fingerprint the
shop, grade. Episodes run one after another: the shop's data is one shared state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from kefu.core.errors import ProviderError
from kefu.evaluation.grading import grade_episode, pass_hat_k
from kefu.evaluation.kefu_client import KefuChatClient
from kefu.evaluation.shop_client import ShopClient, ShopState
from kefu.evaluation.tau2_tasks import Tau2Task
from kefu.evaluation.user_simulator import UserSimulator, UserTurn, stop_reason

__all__ = ["AgentBenchmark", "BenchmarkResult", "EpisodeProgress", "EpisodeResult"]

GREETING = "Hi! How can I help you today?"  # τ²'s agent opens every conversation with it


@dataclass(slots=True)
class EpisodeResult:
    """One trial of one task."""

    task_id: str
    trial: int
    reward: float
    db_match: bool
    outputs_found: dict[str, bool]
    differing_rows: list[str]
    termination: (
        str  # stop | transfer | out_of_scope | max_turns | kefu_error | user_error | handoff
    )
    turns: int
    seconds: float
    conversation_id: str
    transcript: list[dict[str, str]]
    error: str | None = None


@dataclass(slots=True)
class BenchmarkResult:
    """Every episode, pass^k overall and per task, and what ran them."""

    models: dict[str, str]
    trials: int
    task_ids: list[str]
    episodes: list[EpisodeResult] = field(default_factory=list)
    gold_errors: dict[str, list[str]] = field(default_factory=dict)

    def successes(self) -> dict[str, int]:
        counts = dict.fromkeys(self.task_ids, 0)
        for episode in self.episodes:
            counts[episode.task_id] += int(episode.reward == 1.0)
        return counts

    def pass_hat(self) -> dict[int, float]:
        """pass^1 … pass^trials over all tasks."""
        counts = list(self.successes().values())
        return {k: pass_hat_k(counts, self.trials, k) for k in range(1, self.trials + 1)}

    def per_task(self) -> dict[str, dict[int, float]]:
        return {
            task_id: {k: pass_hat_k([c], self.trials, k) for k in range(1, self.trials + 1)}
            for task_id, c in self.successes().items()
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": "tau2-retail",
            "models": self.models,
            "trials": self.trials,
            "tasks": self.task_ids,
            "pass_hat_k": {f"pass^{k}": v for k, v in self.pass_hat().items()},
            "per_task": {
                task_id: {f"pass^{k}": v for k, v in ks.items()}
                for task_id, ks in self.per_task().items()
            },
            "gold_errors": self.gold_errors,
            "episodes": [asdict(e) for e in self.episodes],
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2), "utf-8")


EpisodeProgress = Callable[[EpisodeResult, int, int], None]
"""Called after each episode with it, the episodes done and the episodes in all."""


class AgentBenchmark:
    """The runner: a kefu app, the shop it acts on, and a simulated customer."""

    def __init__(
        self,
        kefu: KefuChatClient,
        shop: ShopClient,
        user: UserSimulator,
        *,
        max_turns: int = 30,
        models: dict[str, str] | None = None,
    ) -> None:
        self.kefu = kefu
        self.shop = shop
        self.user = user
        self.max_turns = max_turns
        self.models = models or {}

    async def run(
        self, tasks: list[Tau2Task], trials: int = 1, progress: EpisodeProgress | None = None
    ) -> BenchmarkResult:
        result = BenchmarkResult(dict(self.models), trials, [t.id for t in tasks])
        total = len(tasks) * trials
        for task in tasks:
            gold, errors = await self.shop.gold_state(task.actions)
            if errors:
                result.gold_errors[task.id] = errors
            for trial in range(trials):
                episode = await self.episode(task, trial, gold)
                result.episodes.append(episode)
                if progress is not None:
                    progress(episode, len(result.episodes), total)
        await self.shop.reset()  # leave the shop as it was found
        return result

    async def episode(self, task: Tau2Task, trial: int, gold: ShopState) -> EpisodeResult:
        """One conversation, graded."""
        started = time.perf_counter()
        await self.shop.reset()
        conversation = [UserTurn("agent", GREETING)]
        replies = [GREETING]
        conversation_id, termination, error = "", "max_turns", None
        user = f"tau2-{task.id}-{trial}-{uuid4().hex[:8]}"
        turns = 0
        while turns < self.max_turns:
            try:
                message = await self.user.next_message(task, conversation)
            except ProviderError as exc:
                termination, error = "user_error", exc.message
                break
            reason = stop_reason(message)
            if reason is not None:
                termination = reason
                break
            conversation.append(UserTurn("user", message))
            turns += 1
            reply = await self.kefu.send(message, user=user, conversation_id=conversation_id)
            conversation_id = reply.conversation_id
            if reply.error is not None:
                termination, error = "kefu_error", reply.error
                break
            if reply.handoff_state != "bot":
                termination = "handoff"
                break
            conversation.append(UserTurn("agent", reply.answer))
            replies.append(reply.answer)
        final = await self.shop.state()
        grade = grade_episode(final, gold, task.outputs, replies)
        return EpisodeResult(
            task_id=task.id,
            trial=trial,
            reward=grade.reward,
            db_match=grade.db_match,
            outputs_found=grade.outputs_found,
            differing_rows=grade.differing_rows,
            termination=termination,
            turns=turns,
            seconds=round(time.perf_counter() - started, 2),
            conversation_id=conversation_id,
            transcript=[{"speaker": t.speaker, "text": t.text} for t in conversation],
            error=error,
        )
