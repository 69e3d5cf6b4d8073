"""WeCom customer service (企业微信 微信客服): customers write from WeChat, official accounts
and mini programs; kefu answers through the 微信客服 API. See docs/channels.md."""

from kefu.channels.base import ChannelKind
from kefu.channels.wecom_kf.channel import WeComKfChannel, WeComKfSettings

__all__ = ["KIND", "WeComKfChannel", "WeComKfSettings"]

KIND = ChannelKind(settings=WeComKfSettings, create=WeComKfChannel)
