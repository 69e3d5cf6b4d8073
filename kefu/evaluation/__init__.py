"""Benchmarks that drive kefu from outside, over its HTTP API (``kefu eval agent``).

This part imports only ``core``: it talks to a kefu server and to the business system (the
demo shop) over HTTP, exactly as a customer's client and an auditor would.
"""

from kefu.evaluation.agent_bench import (
    AgentBenchmark,
    BenchmarkResult,
    EpisodeProgress,
    EpisodeResult,
)
from kefu.evaluation.grading import pass_hat_k
from kefu.evaluation.kefu_client import KefuChatClient
from kefu.evaluation.shop_client import ShopClient
from kefu.evaluation.tau2_tasks import Tau2Task, load_tasks, select_tasks
from kefu.evaluation.user_simulator import LLMUserSimulator, UserSimulator, UserTurn

__all__ = [
    "AgentBenchmark",
    "BenchmarkResult",
    "EpisodeProgress",
    "EpisodeResult",
    "KefuChatClient",
    "LLMUserSimulator",
    "ShopClient",
    "Tau2Task",
    "UserSimulator",
    "UserTurn",
    "load_tasks",
    "pass_hat_k",
    "select_tasks",
]
