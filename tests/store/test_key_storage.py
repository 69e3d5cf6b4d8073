"""Keys are stored as an HMAC with the server secret and listed by a short prefix; keys
stored before (plain SHA-256) keep working and are rewritten on first use (issue 17)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.core.key_hash import KeyHasher, key_prefix
from kefu.services.runtime import Runtime
from kefu.store.models import AgentRow, ApiKeyRow
from tests.conftest import TINY_APP, make_settings


def test_a_short_key_is_not_listed_in_full() -> None:
    assert key_prefix("app-demo") == ""
    assert key_prefix("app-demo-test-key") == "a"
    generated = "app-" + "x" * 32
    assert key_prefix(generated) == "app-xxxxxx"


def test_keys_are_hmacs_with_the_server_secret(tmp_path: Path) -> None:
    runtime = Runtime.build(make_settings(tmp_path / "data"), [TINY_APP])
    try:
        app = runtime.apps.get("tiny")
        record, key = runtime.apps.new_key(app, "app")
        with Session(runtime.store.engine) as session:
            stored = session.scalar(select(ApiKeyRow.key_hash).where(ApiKeyRow.id == record.id))
        assert stored != hashlib.sha256(key.encode()).hexdigest()  # not the bare digest
        assert stored == runtime.store.key_hasher.digest(key)
        assert KeyHasher(b"another secret").digest(key) != stored
        assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
        assert runtime.apps.authenticate(key) is not None
    finally:
        runtime.close()


def test_keys_stored_as_plain_sha256_still_work_and_are_rewritten(tmp_path: Path) -> None:
    runtime = Runtime.build(make_settings(tmp_path / "data"), [TINY_APP])
    try:
        app = runtime.apps.get("tiny")
        record, key = runtime.apps.new_key(app, "app")
        agent, agent_key = runtime.store.agents.create("ann", ["tiny"])
        legacy = hashlib.sha256(key.encode()).hexdigest()
        with Session(runtime.store.engine) as session, session.begin():
            session.execute(
                update(ApiKeyRow).where(ApiKeyRow.id == record.id).values(key_hash=legacy)
            )
            session.execute(
                update(AgentRow)
                .where(AgentRow.id == agent.id)
                .values(key_hash=hashlib.sha256(agent_key.encode()).hexdigest())
            )
        runtime.apps.refresh_credentials()
        credential = runtime.apps.authenticate(key)
        assert credential is not None and credential.key_id == record.id
        found = runtime.store.agents.by_key(agent_key)
        assert found is not None and found.id == agent.id
        with Session(runtime.store.engine) as session:
            rewritten = session.scalar(select(ApiKeyRow.key_hash).where(ApiKeyRow.id == record.id))
            agent_hash = session.scalar(select(AgentRow.key_hash).where(AgentRow.id == agent.id))
        assert rewritten == runtime.store.key_hasher.digest(key) != legacy
        assert agent_hash == runtime.store.key_hasher.digest(agent_key)
        assert runtime.apps.authenticate("app-" + "nope" * 8) is None
    finally:
        runtime.close()


def test_the_consoles_admin_agent_is_made_once_under_concurrent_first_requests(
    tmp_path: Path,
) -> None:
    """Found by the bad-input battery: two first requests with the admin key on the agent API
    both inserted the admin's agent row, and one got a 500."""
    from concurrent.futures import ThreadPoolExecutor

    from kefu.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'kefu.db'}")
    try:
        with ThreadPoolExecutor(8) as pool:
            ids = {agent.id for agent in pool.map(lambda _: store.agents.ensure_admin(), range(16))}
        assert len(ids) == 1
    finally:
        store.close()
