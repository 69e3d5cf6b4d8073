"""τ²-bench's grading of an episode, and its pass^k.

- Database: the shop after the episode must equal a fresh shop after the gold actions.
- Outputs (``communicate_info``): each string must appear in one of the agent's replies,
  compared as τ² does: lower case, the reply's commas removed ("$1,126.04" holds "1126.04").
- pass^k (τ² / τ-bench): over n trials of a task with c successes, the chance that k trials
  drawn without replacement all succeed, C(c, k) / C(n, k); averaged over the tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

from kefu.evaluation.shop_client import ShopState

__all__ = ["Grade", "grade_episode", "output_found", "pass_hat_k"]


@dataclass(frozen=True, slots=True)
class Grade:
    """What the grader found: the reward (0 or 1) and why."""

    reward: float
    db_match: bool
    differing_rows: list[str]
    outputs_found: dict[str, bool]

    @property
    def passed(self) -> bool:
        return self.reward == 1.0


def output_found(expected: str, replies: Sequence[str]) -> bool:
    """τ²'s check of one required output against the agent's replies."""
    needle = expected.lower()
    return any(needle in reply.lower().replace(",", "") for reply in replies)


def grade_episode(
    final: ShopState, gold: ShopState, outputs: Sequence[str], replies: Sequence[str]
) -> Grade:
    """1.0 when the shop matches the gold state and every output was said, else 0.0."""
    found = {expected: output_found(expected, replies) for expected in outputs}
    db_match = final.hash == gold.hash
    reward = 1.0 if db_match and all(found.values()) else 0.0
    return Grade(reward, db_match, [] if db_match else final.differing_rows(gold), found)


def pass_hat_k(successes: Sequence[int], trials: int, k: int) -> float:
    """Mean over tasks of C(c, k) / C(n, k): ``successes`` holds c per task, n = ``trials``."""
    if not successes or not 1 <= k <= trials:
        raise ValueError(f"k must be within 1..{trials} and there must be tasks")
    return sum(comb(c, k) / comb(trials, k) for c in successes) / len(successes)
