"""What a server process imports: memory it would pay for and never use stays out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kefu

PROBE = """
import json, sys
from kefu.services.runtime import Runtime  # everything a served turn runs
from kefu.knowledge.tokenizer import tokenize
from kefu.nlu.intent import IntentClassifier
tokens = tokenize("退货运费谁出")  # jieba's dictionary opens without pkg_resources
print(json.dumps({"tokens": tokens, "modules": sorted(sys.modules)}))
"""


def test_serving_code_leaves_pkg_resources_and_scipy_optimize_out() -> None:
    # The child imports the kefu under test, wherever the test run found it.
    path = [str(Path(kefu.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "运费" in report["tokens"]
    modules = set(report["modules"])
    assert "jieba" in modules
    assert "pkg_resources" not in modules  # ~14 MB (kefu/knowledge/_jieba.py)
    assert "scipy.optimize" not in modules  # ~28 MB, training only
    assert "sklearn" not in modules
