"""The app file: the schema of an app's YAML (persona, knowledge, intents and flows, tools,
LLM, hand-over, safety) and its loader. Every part may read it; it depends only on core."""
