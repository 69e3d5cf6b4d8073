"""Loading db.json into SQLite: fast, idempotent, deterministic; finding the source."""

from __future__ import annotations

import itertools
import re
import sqlite3
import time
from datetime import date
from pathlib import Path

import pytest

from kefu_demo_shop import DB_FILENAME, ShopConfigError, ensure_database, find_source
from kefu_demo_shop.membership import LEVELS, membership_for
from kefu_demo_shop.seed_extra import recent_bills
from kefu_demo_shop.store import ShopStore
from tests.demo_shop.helpers import TODAY


def phones(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(db_path) as conn:
        rows = dict(conn.execute("SELECT user_id, phone FROM users").fetchall())
    conn.close()
    return rows


def test_first_load_is_fast_and_later_starts_reuse_the_file(source: Path, tmp_path: Path) -> None:
    db_path = tmp_path / DB_FILENAME
    started = time.perf_counter()
    assert ensure_database(db_path, source) is True
    assert time.perf_counter() - started < 5
    ShopStore(db_path).cancel_order("#W6247578", "ordered by mistake")
    assert ensure_database(db_path, source) is False
    assert ShopStore(db_path).get_order("W6247578")["status"] == "cancelled"
    assert ensure_database(db_path, source, reset=True) is True
    assert ShopStore(db_path).get_order("W6247578")["status"] == "pending"


def test_every_user_has_a_unique_mainland_mobile(loaded_db: Path) -> None:
    numbers = phones(loaded_db)
    assert len(numbers) == 500
    assert len(set(numbers.values())) == len(numbers)
    assert all(re.fullmatch(r"1[3-9]\d{9}", n) for n in numbers.values())


def test_generated_data_is_the_same_on_every_load(
    loaded_db: Path, source: Path, tmp_path: Path
) -> None:
    again = tmp_path / DB_FILENAME
    ensure_database(again, source)
    assert phones(again) == phones(loaded_db)
    for user_id in ("noah_brown_6181", "mei_martin_4260", "liam_li_8526"):
        assert recent_bills(user_id, TODAY) == recent_bills(user_id, TODAY)
        assert membership_for(user_id, TODAY) == membership_for(user_id, TODAY)
    # October's bill is the same seen from November or December (only its status moves on).
    from_november = recent_bills("noah_brown_6181", TODAY)[0]
    from_december = recent_bills("noah_brown_6181", date(2026, 12, 5))[1]
    assert from_november["month"] == from_december["month"] == "2026-10"
    assert {**from_december, "status": "unpaid"} == from_november


def test_bills_add_up(loaded_db: Path) -> None:
    for bill in recent_bills("noah_brown_6181", TODAY):
        overage = max(0.0, round(bill["data_used_gb"] - bill["data_allowance_gb"], 1))
        assert bill["overage_gb"] == overage
        assert bill["overage_fee"] == round(overage * bill["overage_rate"], 2)
        assert bill["total"] == round(bill["monthly_fee"] + bill["overage_fee"], 2)


def test_source_from_the_environment(source: Path) -> None:
    assert find_source(environ={"KEFU_DEMO_SHOP_SOURCE": str(source)}) == source
    with pytest.raises(ShopConfigError, match="KEFU_DEMO_SHOP_SOURCE"):
        find_source(environ={"KEFU_DEMO_SHOP_SOURCE": "/no/such/db.json"})


def test_source_found_by_walking_up(source: Path, tmp_path: Path) -> None:
    deep = source.parents[3] / "anywhere"  # <root>/shared/data/tau2_retail/db.json
    assert find_source(environ={}, starts=(deep,)) == source.resolve()
    with pytest.raises(ShopConfigError, match="--source"):
        find_source(environ={}, starts=(tmp_path,))


def test_unreadable_source_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "db.json"
    bad.write_text('{"users": {}}', encoding="utf-8")
    with pytest.raises(ShopConfigError, match=re.escape(str(bad))):
        ensure_database(tmp_path / DB_FILENAME, bad)
    assert not (tmp_path / DB_FILENAME).exists()


@pytest.mark.parametrize("today", [TODAY, date(2026, 1, 1), date(2028, 2, 29)])
def test_every_history_follows_the_membership_doc(loaded_db: Path, today: date) -> None:
    codes = [level.code for level in LEVELS]
    for user_id in phones(loaded_db):
        membership = membership_for(user_id, today)
        history = membership["history"][::-1]  # oldest first
        assert history[0]["change"] == "join"
        assert [e["date"] for e in history] == sorted(e["date"] for e in history)
        assert history[-1]["date"] <= today.isoformat()
        for before, event in itertools.pairwise(history):
            assert event["from_level"] == before["to_level"]
            up = codes.index(event["to_level"]) > codes.index(event["from_level"])
            if event["change"] == "downgrade":  # only at the annual review, below the bar
                assert event["date"].endswith("-01-01") and not up
                assert event["growth_points"] < event["threshold"]
            else:
                assert up and event["growth_points"] >= event["threshold"]
        assert membership["level"] == history[-1]["to_level"]
