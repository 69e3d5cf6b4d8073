"""Records of the channel layer (kefu.channels) passed between store, services and channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChannelLink"]


@dataclass(frozen=True, slots=True)
class ChannelLink:
    """A customer on one of an app's channels and the kefu conversation they are in.

    ``peer`` is the platform's stable id of the customer; ``address`` holds what the
    channel needs to send them a message (WeCom: ``open_kfid`` and ``external_userid``).
    """

    app_id: str
    channel: str
    peer: str
    conversation_id: str
    address: dict[str, Any] = field(default_factory=dict)
