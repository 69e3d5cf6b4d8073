"""What a request or a command does: chat, conversations, datasets, annotations, knowledge
gaps, admin, the agent desk, hand-over, tasks and the app registry.

``api`` and ``cli`` call these; these call the turn engine (``kefu.engine``), the parts and
the store. Nothing here knows HTTP.
"""
