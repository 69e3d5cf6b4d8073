"""The stages of a turn, one module each, in the order :mod:`kefu.engine.turn` runs them.

Every stage is ``run(ctx, record)``, sync or async, over the turn's
:class:`~kefu.engine.context.TurnContext`; ``record`` is its entry in the trace. A stage
with an ``applies(ctx)`` runs only when that says so, and is then absent from the trace.
"""
