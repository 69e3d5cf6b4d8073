"""Channels: where customers reach an app besides its API — WeCom customer service (微信客服),
Feishu (飞书) bots, generic signed webhooks.

A channel turns a platform's callback into customer messages, which go through the same
chat service as the API (flows, hand-over, traces all apply), and sends what kefu says —
bot answers, agent replies from the inbox — back through the platform. The interface is
:class:`~kefu.channels.base.Channel`; what kefu offers a channel (duplicates ignored, the
customer's conversation, the turn, retried sends) is :class:`~kefu.channels.kit.ChannelKit`.
A new channel is one package, ``kefu/channels/<type>/``, exporting ``KIND``; the app file
names it under ``channels:`` (docs/channels.md).
"""

from kefu.channels.base import (
    Channel,
    ChannelKind,
    ChannelRequest,
    ChannelResponse,
    ChannelSettings,
    InboundMessage,
    OutboundMessage,
    Peer,
    SendFailed,
)
from kefu.channels.kit import ChannelKit

__all__ = [
    "Channel",
    "ChannelKind",
    "ChannelKit",
    "ChannelRequest",
    "ChannelResponse",
    "ChannelSettings",
    "InboundMessage",
    "OutboundMessage",
    "Peer",
    "SendFailed",
]
