"""``kefu test``: conversation tests written in YAML next to an app (see docs/evaluation.md).

A test is a conversation: what the customer says, turn by turn, and what must be true after
each turn (route, intent, flow and slots, tool calls, hand-over state, language, answer,
sources). ``schema`` reads and validates the files, ``client`` talks to an app (in process
or a running server) and reads each turn's trace, ``checks`` compares, ``runner`` runs the
suite, ``report`` prints the diff and ``junit`` writes JUnit XML for CI.
"""
