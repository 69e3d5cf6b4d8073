"""What channels keep in the store survives a restart: message ids, links, cursors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from kefu.core.channel_records import ChannelLink
from kefu.core.ids import new_id, utcnow
from kefu.store import Store


def test_channel_state_is_durable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    store = Store.open(url)
    app = store.apps.upsert_app("shop", {}).id
    repo = store.channels
    assert repo.first_delivery(app, "wecom", "msg-1") is True
    assert repo.first_delivery(app, "wecom", "msg-1") is False
    assert repo.first_delivery(app, "feishu", "msg-1") is True  # ids are per channel
    conversation = new_id()
    repo.link(ChannelLink(app, "wecom", "wk:alice", conversation, {"open_kfid": "wk"}))
    repo.save_cursor(app, "wecom/wk", "42")
    store.close()

    reopened = Store.open(url).channels  # a restart, or a second replica
    assert reopened.first_delivery(app, "wecom", "msg-1") is False
    assert reopened.by_peer(app, "wecom", "wk:alice") == ChannelLink(
        app, "wecom", "wk:alice", conversation, {"open_kfid": "wk"}
    )
    assert reopened.by_conversation(conversation) is not None
    assert reopened.by_conversation(new_id()) is None
    assert (reopened.cursor(app, "wecom/wk"), reopened.cursor(app, "wecom")) == ("42", "")
    moved = new_id()
    reopened.link(ChannelLink(app, "wecom", "wk:alice", moved, {"open_kfid": "wk"}))
    assert reopened.by_peer(app, "wecom", "wk:alice").conversation_id == moved  # type: ignore[union-attr]
    assert reopened.forget_deliveries_before(utcnow() + timedelta(seconds=1)) == 2
    assert reopened.first_delivery(app, "wecom", "msg-1") is True
