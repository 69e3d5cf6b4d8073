"""Two identical ratings at the same moment (a double click, a client retry): both succeed
and one row remains, on SQLite and PostgreSQL — the insert that loses the race to the
unique index is run again as an update instead of failing with a 500."""

from __future__ import annotations

import threading

from sqlalchemy import text

from kefu.core.ids import end_user_id
from kefu.store import Store
from kefu.store.writer import write_turns
from tests.store.test_turn_writer import make_turn

THREADS = 8


def test_concurrent_identical_feedback_leaves_one_row(db_url: str) -> None:
    store = Store.open(db_url)
    app = store.apps.upsert_app("race", {})
    turn = make_turn(app.id, "alice")
    with store.engine.begin() as connection:
        write_turns(connection, [turn], portable=True)
    uid = end_user_id(app.id, "alice")
    start = threading.Barrier(THREADS)
    results: list[object] = []

    def rate() -> None:
        start.wait()
        try:
            results.append(
                store.conversations.set_feedback(app.id, uid, turn.message.id, "like", "好")
            )
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=rate) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [True] * THREADS
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM feedbacks")).scalar()
    assert rows == 1
    store.close()
