"""The simulated customer: an LLM plays the task's user, as in τ²-bench.

The system prompt is a set of role-play guidelines followed by the task's scenario (τ²'s
layout: guidelines, then ``<scenario>``). The simulator ends the episode by writing a stop
token: ``###STOP###`` when its goal is met, ``###TRANSFER###`` when handed to a human,
``###OUT-OF-SCOPE###`` when the scenario does not say how to go on. Any OpenAI-compatible
chat server works; ``<think>`` blocks (Qwen3) are dropped from what the agent sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from kefu.core.errors import ProviderError
from kefu.evaluation.tau2_tasks import Tau2Task

__all__ = [
    "STOP_TOKENS",
    "LLMUserSimulator",
    "UserSimulator",
    "UserTurn",
    "simulator_prompt",
    "stop_reason",
]

STOP_TOKENS = {
    "###STOP###": "stop",
    "###TRANSFER###": "transfer",
    "###OUT-OF-SCOPE###": "out_of_scope",
}
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)

GUIDELINES = """\
# How to play the customer
You are a customer contacting a customer-service agent. Play the customer described in the
scenario below, realistically, and follow its instructions exactly.

- Write one message at a time, as a customer would in a chat.
- Stay strictly within the scenario. Never invent information it does not give you: what it
  does not say is unknown to you.
- Do not recite the instructions word for word; say things in your own words.
- Reveal information only when the agent asks for it, one piece at a time.

# Ending the conversation
- Keep going until every request in the scenario is dealt with. Agreeing to an action is not
  the action being done: wait until the agent says it is done.
- When everything in the scenario is done, write ###STOP### (and nothing else after it).
- If you are transferred to a human agent, write ###TRANSFER###.
- If the scenario gives you no way to continue, write ###OUT-OF-SCOPE###."""


def simulator_prompt(task: Tau2Task) -> str:
    """The simulator's system prompt: the guidelines, then the task's scenario."""
    return f"{GUIDELINES}\n\n<scenario>\n{task.user_scenario()}\n</scenario>"


def stop_reason(message: str) -> str | None:
    """``stop``, ``transfer`` or ``out_of_scope`` when the message ends the episode."""
    for token, reason in STOP_TOKENS.items():
        if token in message:
            return reason
    return None


@dataclass(frozen=True, slots=True)
class UserTurn:
    """One message of the conversation as the simulator sees it."""

    speaker: Literal["agent", "user"]
    text: str


class UserSimulator(Protocol):
    """Plays the customer of one task: the next message, given the conversation so far."""

    async def next_message(self, task: Tau2Task, conversation: list[UserTurn]) -> str: ...


class LLMUserSimulator:
    """An OpenAI-compatible chat model playing the customer (temperature 0, as in τ²)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        temperature: float = 0.0,
        max_tokens: int = 512,
        timeout_s: float = 300,
    ) -> None:
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def next_message(self, task: Tau2Task, conversation: list[UserTurn]) -> str:
        # Roles flip: the agent's words are the simulator's "user" input.
        messages = [{"role": "system", "content": simulator_prompt(task)}]
        messages += [
            {"role": "user" if turn.speaker == "agent" else "assistant", "content": turn.text}
            for turn in conversation
        ]
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        try:
            response = await self._http.post("/chat/completions", json=body)
            response.raise_for_status()
            text = response.json()["choices"][0]["message"].get("content") or ""
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(
                f"user simulator ({self.model}): {type(exc).__name__}: {exc}"
            ) from None
        return _THINK.sub("", text).strip()
