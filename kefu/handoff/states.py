"""The hand-over state machine of a conversation.

::

    bot ──request──▶ pending_human ──claim/assign──▶ human ──resolve──▶ resolved
     ▲                  ▲   │                          │ ▲                 │
     │                  │   └────────resolve───────────┼─┼────────────────▶│
     │                  └──────────release─────────────┘ └─transfer        │
     └─────────────────────────── the customer writes again ◀──────────────┘
                                  (or ``request`` straight to pending_human)

While the state is ``pending_human`` or ``human`` the bot stays silent and the customer's
messages go to the agent inbox. An illegal move raises :class:`~kefu.core.errors.Conflict`.
"""

from __future__ import annotations

from typing import Literal

from kefu.core.errors import Conflict, InvalidParam

__all__ = [
    "HUMAN_STATES",
    "STATES",
    "Action",
    "State",
    "held_by_human",
    "next_state",
    "parse_state",
]

State = Literal["bot", "pending_human", "human", "resolved"]
Action = Literal["request", "claim", "assign", "transfer", "release", "resolve", "return"]
STATES: tuple[State, ...] = ("bot", "pending_human", "human", "resolved")
HUMAN_STATES: frozenset[str] = frozenset({"pending_human", "human"})

_MOVES: dict[tuple[str, Action], State] = {
    ("bot", "request"): "pending_human",
    ("resolved", "request"): "pending_human",
    ("pending_human", "claim"): "human",
    ("pending_human", "assign"): "human",
    ("human", "transfer"): "human",
    ("pending_human", "transfer"): "human",
    ("human", "release"): "pending_human",
    ("pending_human", "resolve"): "resolved",
    ("human", "resolve"): "resolved",
    ("resolved", "return"): "bot",
}

_WHY = {
    "bot": "the bot is handling this conversation",
    "pending_human": "the conversation is waiting for an agent",
    "human": "an agent is handling this conversation",
    "resolved": "the conversation was resolved",
}


def next_state(current: str, action: Action) -> State:
    """The state ``action`` leads to from ``current``; Conflict when it is not allowed."""
    target = _MOVES.get((current, action))
    if target is None:
        raise Conflict(f"cannot {action} now: {_WHY.get(current, f'state is {current}')}")
    return target


def held_by_human(state: str) -> bool:
    """Whether the bot must stay silent (an agent owns or is about to own the conversation)."""
    return state in HUMAN_STATES


def parse_state(value: str) -> State:
    for state in STATES:
        if state == value:
            return state
    raise InvalidParam(f"state must be one of {', '.join(STATES)}")
