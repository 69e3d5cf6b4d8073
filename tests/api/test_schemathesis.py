"""Schemathesis against kefu's own OpenAPI document, on a real uvicorn server.

Every operation is fuzzed (coverage and fuzzing phases) with an app key, and the admin
operations again with the admin key. No response may be a server error, and afterwards the
database must be consistent: no message without its conversation or trace, no stale counts.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import KEY, running_server

pytestmark = pytest.mark.slow
ADMIN_KEY = "admin-real"  # what tests.servers gives the server
INTERPRETER_BUG = "AST constructor recursion depth mismatch"
# The schemathesis CLI, with one repair: hypothesis names each filter by parsing the source
# file its lambda comes from (a cosmetic repr), and on CPython 3.11.7 that ``ast.parse`` of a
# 4,000-line schemathesis module now and then raises SystemError (INTERPRETER_BUG; fixed in
# later CPython releases). Three runs in a row hit it once (2026-12-04), so the name falls back
# to the function's own; what is generated and checked is unchanged.
RUN_SCHEMATHESIS = """
import sys
from hypothesis.internal import lambda_sources
describe = lambda_sources.lambda_description
def lambda_description(f):
    try:
        return describe(f)
    except SystemError:
        return getattr(f, "__name__", "<lambda>")
lambda_sources.lambda_description = lambda_description
from schemathesis.cli import schemathesis
sys.argv[0] = "st"
sys.exit(schemathesis())
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    with pytest.MonkeyPatch.context() as env:
        # ~1,600 cases through one key: its default limit (50/s) would answer many of them
        # 429 before they reach validation. The limits have their own tests.
        env.setenv("KEFU_KEY_RATE_PER_S", "0")
        with running_server(data_dir) as base_url:
            yield base_url, data_dir


def schemathesis(base_url: str, key: str, *extra: str) -> int:
    """Run the schemathesis CLI; return how many cases it generated (all must pass)."""
    for _attempt in range(3):
        result = subprocess.run(
            [
                sys.executable, "-c", RUN_SCHEMATHESIS, "run", f"{base_url}/openapi.json",
                "--header", f"Authorization: Bearer {key}",
                "--checks", "not_a_server_error",
                "--phases", "coverage,fuzzing",
                "--max-examples", "40", "--seed", "20261121", "--workers", "2",
                "--suppress-health-check", "all", "--generation-database", "none",
                "--request-timeout", "30",
                *extra,
            ],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        output = result.stdout + result.stderr
        # Should CPython 3.11.7's AST bug still end a run some other way (it was also seen
        # once in pytest here), that run says nothing about kefu: it is repeated, up to twice.
        # Any other failure fails.
        if INTERPRETER_BUG not in output:
            break
    assert result.returncode == 0, output[-8000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts is not None, output[-2000:]
    generated, passed = int(counts.group(1)), int(counts.group(2))
    assert generated == passed and generated > 100, output[-2000:]
    print(f"schemathesis {extra or '(all)'}: {generated} cases generated, {passed} passed")
    return generated


def test_no_server_errors_and_a_consistent_database(served: tuple[str, Path]) -> None:
    base_url, data_dir = served
    headers = {"Authorization": f"Bearer {KEY}"}
    conversation = ""
    for query in ("订单多久发货?", "How long does shipping take?", "怎么开发票"):
        # Real conversations first, so the fuzzing runs over data and the checks below bite.
        answer = httpx.post(f"{base_url}/v1/chat-messages", headers=headers, json={
            "query": query, "user": "seed-user", "response_mode": "blocking",
            "conversation_id": conversation,
        }).json()  # fmt: skip
        conversation = answer["conversation_id"]
    cases = schemathesis(base_url, KEY)
    cases += schemathesis(base_url, ADMIN_KEY, "--include-path-regex", "^/admin")
    assert cases > 500
    with sqlite3.connect(data_dir / "kefu.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = db.execute(
            "SELECT count(*) FROM messages m LEFT JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.id IS NULL"
        ).fetchone()[0]
        untraced = db.execute(
            "SELECT count(*) FROM messages m LEFT JOIN message_traces t "
            "ON t.message_id = m.id WHERE t.message_id IS NULL"
        ).fetchone()[0]
        stale = db.execute(
            "SELECT count(*) FROM conversations c WHERE c.message_count != "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)"
        ).fetchone()[0]
        stored = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert (orphans, untraced, stale) == (0, 0, 0)
    assert stored >= 3
