"""Feishu (飞书) bot: event subscription v2 in, ``im/v1/messages`` out. See docs/channels.md."""

from kefu.channels.base import ChannelKind
from kefu.channels.feishu.channel import FeishuChannel, FeishuSettings

__all__ = ["KIND", "FeishuChannel", "FeishuSettings"]

KIND = ChannelKind(settings=FeishuSettings, create=FeishuChannel)
