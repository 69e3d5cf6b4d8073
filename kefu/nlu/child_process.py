"""Run a training module in a fresh child process: the pickled payload on its stdin, the
pickled result on its stdout (``kefu.nlu.intent.child``, ``kefu.nlu.faq_classifier_child``).

A plain child process (not multiprocessing) starts nothing else — no resource tracker that
outlives it — does not re-import the parent's ``__main__``, and keeps what training imports
(scikit-learn, ~110 MB) out of the server.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from typing import Any

__all__ = ["ChildFailed", "run_module"]


class ChildFailed(Exception):
    """The child could not start, timed out or exited non-zero; the message says why (its
    stderr's last line)."""


def run_module(module: str, payload: Any, *, timeout_s: float = 600) -> Any:
    """``python -m module`` with ``payload`` pickled on stdin; its unpickled stdout."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", module],
            input=pickle.dumps(payload),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChildFailed(str(exc)) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ChildFailed(message[-1] if message else f"exit status {done.returncode}")
    return pickle.loads(done.stdout)
