"""An app with a remote embedder and reranker (configured in its YAML) against a real model
server on a loopback port: a hanging or failing server never stalls other conversations;
the turn answers lexically by its deadline and the trace says why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kefu.knowledge.query_time import QUERY_DEADLINE_S
from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY, FIXTURES, TINY_APP, make_settings
from tests.knowledge._model_server import EMBEDDINGS, RERANK, ModelServer, serving_models
from tests.servers import in_process_client

pytestmark = pytest.mark.integration

SHIPPING_ANSWER = "Parcels leave within 48 hours and arrive in 3-5 days."
# Not the FAQ's question word for word: that one is matched without the embedder.
PARAPHRASE = "How long does the shipping take?"
APP_YAML = """\
name: remote
language: en
persona: A terse test bot.
knowledge:
  faq: [faq.jsonl]
  documents: [{docs}]
  retrieval:
    embedding: {{provider: openai, base_url: "{url}", model: bge-m3, retries: 1}}
    rerank: {{provider: openai, base_url: "{url}", model: bge-reranker, retries: 1}}
    dense_floor: 0.2
    dense_ceiling: 0.9
"""
FAQ = (
    '{"id": "ship", "question": "How long does shipping take?", '
    f'"answer": "{SHIPPING_ANSWER}"}}\n'
    '{"id": "pay", "question": "Which payment methods do you accept?", '
    '"answer": "Cards and bank transfer."}\n'
)


@pytest.fixture
def models() -> Iterator[ModelServer]:
    with serving_models() as server:
        yield server


# A flow that quotes the knowledge (no tools): its lookup calls the models too.
CLAIM_FLOW = """\
intents:
  warranty.claim:
    - I want to make a warranty claim
    - how do I claim the warranty for my kettle
    - file a warranty claim
    - start a warranty claim please
  greeting:
    - hello there
    - good morning
flows:
  - name: claim
    intent: warranty.claim
    knowledge: warranty claims receipt counter repairs
    answer:
      zh: "{{ knowledge }}"
      en: "{{ knowledge }}"
"""


@pytest.fixture
def runtime(
    tmp_path: Path, models: ModelServer, request: pytest.FixtureRequest
) -> Iterator[Runtime]:
    """The ``remote`` app (indexed while the model server answers) beside the lexical
    ``tiny`` app; ``indirect`` parametrization appends YAML to the remote app."""
    (tmp_path / "faq.jsonl").write_text(FAQ, encoding="utf-8")
    app_file = tmp_path / "remote.yaml"
    docs = FIXTURES / "apps" / "tiny" / "docs"
    extra = getattr(request, "param", "")
    app_file.write_text(APP_YAML.format(url=models.url, docs=docs) + extra, encoding="utf-8")
    built = Runtime.build(make_settings(tmp_path / "data"), [app_file, TINY_APP])
    yield built
    built.close()


@pytest.fixture
async def ask(runtime: Runtime) -> AsyncIterator[Any]:
    """``ask(app, question)`` → (answer JSON, trace JSON) through the service and admin API."""
    keys = {
        name: runtime.apps.new_key(runtime.apps.get(name), "app")[1] for name in ("remote", "tiny")
    }
    async with in_process_client(runtime) as http:

        async def ask(app: str, question: str) -> tuple[dict[str, Any], dict[str, Any]]:
            body = {"query": question, "user": "u1", "response_mode": "blocking"}
            headers = {"Authorization": f"Bearer {keys[app]}"}
            answer = (await http.post("/v1/chat-messages", json=body, headers=headers)).json()
            trace = await http.get(
                f"/admin/messages/{answer['message_id']}/trace",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            return answer, trace.json()

        yield ask
    await runtime.aclose_models()  # this loop's connections, the model server's included


def stage(trace: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in trace["stages"] if s["name"] == name)


async def test_with_the_models_up_the_turn_awaits_them(models: ModelServer, ask: Any) -> None:
    calls = models.calls(EMBEDDINGS)
    answer, trace = await ask("remote", PARAPHRASE)
    assert answer["answer"] == SHIPPING_ANSWER
    assert [s["name"] for s in trace["stages"]][1:4] == ["understand", "route", "retrieve"]
    retrieve = stage(trace, "retrieve")
    assert retrieve["cache"] == "miss" and retrieve["deadline_s"] == QUERY_DEADLINE_S
    assert "degraded" not in retrieve
    assert models.calls(EMBEDDINGS) == calls + 1  # the question, once
    _, again = await ask("remote", PARAPHRASE)
    assert stage(again, "retrieve")["cache"] == "hit" and models.calls(EMBEDDINGS) == calls + 1


async def test_a_verbatim_faq_question_skips_the_embedder(models: ModelServer, ask: Any) -> None:
    calls = models.calls(EMBEDDINGS)
    answer, trace = await ask("remote", "how long does SHIPPING take")
    assert answer["answer"] == SHIPPING_ANSWER
    retrieve = stage(trace, "retrieve")
    assert retrieve["encoder"] == "skipped: verbatim FAQ question"
    assert models.calls(EMBEDDINGS) == calls


async def test_a_hanging_embedder_stalls_no_other_conversation(
    models: ModelServer, ask: Any
) -> None:
    models.hanging.add(EMBEDDINGS)
    started = time.monotonic()
    remote = asyncio.create_task(ask("remote", PARAPHRASE))
    while not models.hung.is_set():  # the remote app's turn now waits on the server
        assert time.monotonic() - started < 5, "the question never reached the model server"
        await asyncio.sleep(0.01)

    asked = time.monotonic()
    answer, _ = await ask("tiny", "What are your opening hours?")
    assert answer["answer"] == "We are open 9:00-18:00, Monday to Friday."
    assert time.monotonic() - asked < 1.0  # answered while the other turn waits
    assert not remote.done()

    answer, trace = await remote
    waited = time.monotonic() - started
    assert QUERY_DEADLINE_S - 0.2 < waited < QUERY_DEADLINE_S + 1.5  # not the 30 s timeout
    assert answer["answer"] == SHIPPING_ANSWER  # the lexical FAQ match
    assert trace["route"] == "faq"
    retrieve = stage(trace, "retrieve")
    assert retrieve["degraded"] == ["embedder unavailable: timeout → lexical"]
    assert retrieve["duration_ms"] >= (QUERY_DEADLINE_S - 0.2) * 1000


async def test_an_embedder_answering_500_degrades_to_lexical(models: ModelServer, ask: Any) -> None:
    models.broken[EMBEDDINGS] = (500, {"error": "CUDA out of memory"})
    answer, trace = await ask("remote", PARAPHRASE)
    assert answer["answer"] == SHIPPING_ANSWER
    [note] = stage(trace, "retrieve")["degraded"]
    assert note.startswith(f"embedder unavailable: {models.url}/embeddings answered 500: ")
    assert "CUDA out of memory" in note and note.endswith(" → lexical")

    # Not cached as if it were the real decision; the next turn skips the broken server.
    calls = models.calls(EMBEDDINGS)
    answer, trace = await ask("remote", PARAPHRASE)
    assert answer["answer"] == SHIPPING_ANSWER
    retrieve = stage(trace, "retrieve")
    assert retrieve["cache"] == "miss"
    assert retrieve["degraded"][0].endswith("(cooling down) → lexical")
    assert models.calls(EMBEDDINGS) == calls


async def test_a_failing_reranker_keeps_the_fused_order(models: ModelServer, ask: Any) -> None:
    question = "Is limescale damage covered by the kettle warranty?"
    models.broken[RERANK] = (503, {"error": "overloaded"})
    answer, trace = await ask("remote", question)
    assert trace["route"] == "passage"
    assert "Limescale damage is not covered" in answer["answer"]
    [note] = stage(trace, "retrieve")["degraded"]
    assert note.startswith("reranker unavailable: ") and note.endswith(" → fused order")
    assert "answered 503" in note


@pytest.mark.parametrize("runtime", [CLAIM_FLOW], indirect=True)
async def test_a_flows_knowledge_lookup_degrades_too(models: ModelServer, ask: Any) -> None:
    """The flow's own knowledge question awaits the models under the same deadline."""
    models.hanging.add(EMBEDDINGS)
    started = time.monotonic()
    answer, trace = await ask("remote", "I want to make a warranty claim")
    assert time.monotonic() - started < QUERY_DEADLINE_S * 2 + 1.5  # not the 30 s timeout
    assert trace["route"] == "flow", trace
    assert "bring the kettle and the receipt" in answer["answer"]
    act = stage(trace, "act")
    assert act["knowledge_degraded"][0].startswith("embedder unavailable: ")
