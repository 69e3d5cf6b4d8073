"""Running conversation tests: each test is a new customer; its turns run in order until one
fails (a conversation that went wrong once rarely says anything about its later turns)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kefu.appfile.tool_config import Template
from kefu.cli.conversation_tests.checks import Mismatch, check_turn
from kefu.cli.conversation_tests.client import Observed, TestClient, TurnFailed
from kefu.cli.conversation_tests.schema import ConversationTest, HttpStep, TestFile

__all__ = ["TestResult", "TurnOutcome", "render_env", "run_suite"]

STEP_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """One turn: what was said, what came back, what did not match."""

    said: str
    observed: Observed | None
    mismatches: list[Mismatch]


@dataclass(slots=True)
class TestResult:
    """One test: its turns as far as they ran, or the error that stopped it."""

    __test__ = False  # not a pytest class

    file: Path
    test: ConversationTest
    turns: list[TurnOutcome] = field(default_factory=list)
    error: str | None = None  # a setup step or the API failed
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and len(self.turns) == len(self.test.turns)
            and not any(turn.mismatches for turn in self.turns)
        )

    @property
    def name(self) -> str:
        return self.test.name


def render_env(source: str, env: Mapping[str, str]) -> str:
    """``{env.NAME}`` / ``{env.NAME|default}`` filled from ``env`` (an unset one without a
    default is an error); the same grammar as the app file's tool URLs."""
    out: list[str] = []
    for part in Template.parse(source).parts:
        if isinstance(part, str):
            out.append(part)
        elif not part.env:
            raise ValueError(f"only {{env.NAME}} placeholders are allowed here: {source!r}")
        else:
            value = env.get(part.name, part.default)
            if value is None:
                raise ValueError(f"environment variable {part.name} is not set")
            out.append(value)
    return "".join(out)


async def _run_steps(steps: list[HttpStep]) -> None:
    if not steps:
        return
    async with httpx.AsyncClient(timeout=STEP_TIMEOUT_S) as http:
        for step in steps:
            url = render_env(step.url_template, os.environ)
            try:
                response = await http.request(
                    step.method, url, json=step.json_body, headers=step.headers
                )
            except httpx.HTTPError as exc:
                raise TurnFailed(f"{step.method} {url}: {exc!r}") from None
            if response.status_code >= 400:
                raise TurnFailed(f"{step.method} {url} → {response.status_code}: {response.text}")


async def _run_test(
    client: TestClient, suite: TestFile, test: ConversationTest, user: str
) -> TestResult:
    result = TestResult(suite.path, test)
    started = time.perf_counter()
    try:
        await _run_steps([*suite.setup, *test.setup])
        conversation = ""
        for turn in test.turns:
            await _run_steps(turn.setup)
            observed = await client.say(test.user or user, turn.say, conversation, test.inputs)
            conversation = observed.conversation_id
            mismatches = check_turn(turn.expect, observed)
            result.turns.append(TurnOutcome(turn.say, observed, mismatches))
            if mismatches:
                break
    except (TurnFailed, ValueError) as exc:
        result.error = str(exc)
    finally:
        try:
            await _run_steps([*test.teardown, *suite.teardown])
        except (TurnFailed, ValueError) as exc:
            result.error = result.error or f"teardown: {exc}"
    result.seconds = time.perf_counter() - started
    return result


async def run_suite(
    client: TestClient,
    suites: list[TestFile],
    run_id: str,
    on_done: Callable[[TestResult], None] | None = None,
) -> list[TestResult]:
    """Run every test of ``suites`` one after another (a fault injected for one test must
    not reach another); ``on_done`` sees each result as it comes."""
    results: list[TestResult] = []
    number = 0
    for suite in suites:
        for test in suite.tests:
            number += 1
            result = await _run_test(client, suite, test, f"kefu-test-{run_id}-{number}")
            results.append(result)
            if on_done is not None:
                on_done(result)
    return results
