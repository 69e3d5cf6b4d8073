"""The FAQ forms' hubness (every form against every other: O(forms²), 19 s for 30k forms)
is saved with the index, so a restart reads it instead of computing it again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.types import FaqEntry
from kefu.knowledge import KnowledgeIndex, _index_fit, knowledge_fingerprint
from kefu.knowledge.embedders import use_available
from kefu.knowledge.embedders.multilingual import shared_use

pytestmark = pytest.mark.skipif(not use_available(), reason="the multilingual encoder is absent")

HYBRID = RetrievalConfig(retrievers="hybrid")


def _index(folder: Path) -> KnowledgeIndex:
    return KnowledgeIndex(folder, embedder=shared_use(), retrieval=HYBRID)


def _not_again(*_: object) -> np.ndarray:
    raise AssertionError("the hubness was computed again on load")


def test_a_restart_reads_the_forms_hubness(
    tmp_path: Path, shop_faqs: list[FaqEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _index(tmp_path)
    built.rebuild(shop_faqs, [])
    hubness = built._snapshot.faq_hubness
    assert hubness is not None and len(hubness) == len(built._snapshot.faq.forms)
    [saved] = list(tmp_path.rglob("faq_hubness.npy"))
    fingerprint = knowledge_fingerprint(shop_faqs, [], shared_use().name)

    with monkeypatch.context() as patched:
        patched.setattr(_index_fit, "form_hubness", _not_again)
        restarted = _index(tmp_path)
        assert restarted.load(fingerprint)
    loaded = restarted._snapshot.faq_hubness
    assert loaded is not None
    np.testing.assert_array_equal(loaded, hubness)
    question = "退货的运费谁来出"
    assert restarted.match_faq(question) == built.match_faq(question)

    np.save(saved, np.zeros(3))  # not one value per form: computed again, not trusted
    again = _index(tmp_path)
    assert again.load(fingerprint)
    recomputed = again._snapshot.faq_hubness
    assert recomputed is not None
    np.testing.assert_allclose(recomputed, hubness)
