"""Knowledge changed through the store (another process, `kefu kb import`) is picked up."""

from __future__ import annotations

from pathlib import Path

from kefu.services.knowledge_sync import import_paths
from kefu.services.runtime import Runtime
from tests.turns import decide


def test_import_then_refresh_answers_from_new_faq(runtime: Runtime, tmp_path: Path) -> None:
    tiny = runtime.apps.get("tiny")
    question = "Do you sell gift cards?"
    assert decide(tiny, question).route != "faq"
    faq = tmp_path / "gift.jsonl"
    faq.write_text(
        '{"id": "gift", "question": "Do you sell gift cards?", "answer": "Yes, from 10 EUR."}\n',
        encoding="utf-8",
    )
    import_paths(runtime.store, tiny.id, tiny.config, [faq])
    runtime.apps.refresh_knowledge()
    ctx = decide(tiny, question)
    assert ctx.route == "faq" and ctx.answer == "Yes, from 10 EUR."
    document = next(
        d for d in runtime.store.knowledge.list_documents(tiny.id) if d.name == "gift.jsonl"
    )
    assert runtime.store.knowledge.delete_document(tiny.id, document.id)
    runtime.apps.refresh_knowledge()
    assert decide(tiny, question).route != "faq"
