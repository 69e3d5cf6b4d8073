"""A generic webhook channel: an integrator's system POSTs signed customer messages in, and
kefu POSTs its answers and agents' replies, signed the same way, to the integrator's URL.
See docs/channels.md."""

from kefu.channels.base import ChannelKind
from kefu.channels.webhook.channel import WebhookChannel, WebhookSettings

__all__ = ["KIND", "WebhookChannel", "WebhookSettings"]

KIND = ChannelKind(settings=WebhookSettings, create=WebhookChannel)
