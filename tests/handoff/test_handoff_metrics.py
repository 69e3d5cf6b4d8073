"""Hand-overs by reason, and how long a conversation waited until an agent took it."""

from __future__ import annotations

from tests.handoff.conftest import Desk
from tests.handoff.test_agent_api import waiting_conversation
from tests.observability.scrape import scrape, value


async def test_hand_overs_by_reason_and_the_wait_until_an_agent_claims(desk: Desk) -> None:
    before = await scrape(desk.http)
    conversation_id = await waiting_conversation(desk, "metrics-wait")
    agent = await desk.new_agent("metrics-amy")
    claimed = await desk.agent(agent, "POST", f"/conversations/{conversation_id}/claim")
    assert claimed.status_code == 200
    after = await scrape(desk.http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kefu_handoffs_total", app="desk", reason="customer_request") == 1
    assert moved("kefu_handoff_queue_wait_seconds_count", app="desk") == 1
    assert 0 <= moved("kefu_handoff_queue_wait_seconds_sum", app="desk") < 60
