"""The human side of customer service: the agent inbox, assignment, agent replies, the
return to the bot, tickets, satisfaction ratings and outgoing webhooks.

Synchronous domain logic over :class:`kefu.store.Store`; the engine
(:mod:`kefu.services.handoff`) runs it off the event loop and tells customers and desks.
"""

from kefu.handoff.states import HUMAN_STATES, STATES, held_by_human, next_state

__all__ = ["HUMAN_STATES", "STATES", "held_by_human", "next_state"]
