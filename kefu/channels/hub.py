"""Every configured channel of every app: built from the app files, found by app and name
for their callbacks, and told of what agents say so it reaches customers on their platform."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import pkgutil
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kefu.appfile.channel_config import ChannelConfig
from kefu.channels.base import (
    Channel,
    ChannelKind,
    ChannelRequest,
    ChannelResponse,
    OutboundMessage,
    Peer,
)
from kefu.channels.kit import ChannelKit
from kefu.core.errors import ConfigError, NotFound
from kefu.core.ids import new_id
from kefu.services.channel_state import ChannelState
from kefu.services.registry import AppRuntime
from kefu.services.runtime import Runtime

__all__ = ["ChannelHub", "channel_types", "load_kind"]

log = logging.getLogger(__name__)


def channel_types() -> list[str]:
    """The channel packages kefu ships (each a sub-package exporting ``KIND``)."""
    import kefu.channels

    return sorted(m.name for m in pkgutil.iter_modules(kefu.channels.__path__) if m.ispkg)


def load_kind(type_name: str) -> ChannelKind:
    """The channel package named ``type_name``, imported on first use."""
    module_name = f"kefu.channels.{type_name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError(
            f"unknown channel type {type_name!r} (known: {', '.join(channel_types())})"
        ) from None
    kind = getattr(module, "KIND", None)
    if not isinstance(kind, ChannelKind):
        raise ConfigError(f"{module_name} exports no channel KIND")
    return kind


class ChannelHub:
    """One per served HTTP app; ``aclose`` when it stops."""

    def __init__(
        self,
        runtime: Runtime,
        environ: Mapping[str, str] | None = None,
        *,
        backoff_s: float = 0.5,
    ) -> None:
        """Builds every channel; a settings mistake raises ``ConfigError`` naming the file
        and key. A channel whose secrets are not in the environment is left out, with a
        warning, and its callback answers 503 saying which variable is missing."""
        self._runtime = runtime
        self.state = ChannelState(runtime.store)
        self.kits: dict[tuple[str, str], ChannelKit] = {}
        self.unavailable: dict[tuple[str, str], str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        environ = os.environ if environ is None else environ
        for app in runtime.apps.all():
            for index, config in enumerate(app.config.channels):
                self._build(app, index, config, environ, backoff_s)
        if self.kits:  # agent replies reach channel customers through this hub
            runtime.handoff.notify.listeners.append(self._on_customer_event)

    def _build(
        self,
        app: AppRuntime,
        index: int,
        config: ChannelConfig,
        environ: Mapping[str, str],
        backoff_s: float,
    ) -> None:
        where = (app.name, config.channel_name)
        file = str(app.config.source_file) if app.config.source_file else None
        if not config.enabled:
            self.unavailable[where] = "this channel is disabled in the app file"
            return
        try:
            kind = load_kind(config.type)
        except ConfigError as exc:
            raise ConfigError(exc.reason, file=file, key=f"channels.{index}.type") from None
        try:
            settings = kind.settings.model_validate(config.settings())
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in ("channels", index, *first["loc"]))
            raise ConfigError(first["msg"], file=file, key=key) from None
        secrets: dict[str, str] = {}
        for setting, variable in settings.secret_envs().items():
            value = environ.get(variable, "")
            if not value:
                reason = f"environment variable {variable} ({setting}) is not set"
                log.warning("app %s: channel %s is off: %s", app.name, where[1], reason)
                self.unavailable[where] = reason
                return
            secrets[setting] = value
        kit = ChannelKit(
            self._runtime,
            self.state,
            app_name=app.name,
            name=config.channel_name,
            kind=config.type,
            max_attempts=settings.max_attempts,
            backoff_s=backoff_s,
            tasks=self._tasks,
        )
        try:
            kit.channel = kind.create(settings, secrets, kit)
        except ConfigError as exc:
            key = f"channels.{index}" + (f".{exc.key}" if exc.key else "")
            raise ConfigError(exc.reason, file=file, key=key) from None
        self.kits[where] = kit

    def channel(self, app: str, name: str) -> Channel:
        kit = self.kits.get((app, name))
        if kit is None or kit.channel is None:
            raise NotFound(f"app {app!r} has no channel {name!r}")
        return kit.channel

    async def receive(self, app: str, name: str, request: ChannelRequest) -> ChannelResponse:
        return await self.channel(app, name).receive(request)

    # --- agent replies and notices to channel customers ------------------------------------

    def _on_customer_event(self, conversation_id: str, event: dict[str, Any]) -> None:
        """Called for every event a customer hears; relays what a channel customer reads."""
        message = None
        if event.get("event") == "agent_message" and event.get("answer"):
            agent = event.get("agent") or {}
            message = OutboundMessage(
                str(event["answer"]), str(event.get("message_id") or new_id()), "agent",
                conversation_id, agent.get("name"),
            )  # fmt: skip
        elif event.get("event") == "handoff_state" and event.get("message"):
            message = OutboundMessage(str(event["message"]), new_id(), "notice", conversation_id)
        if message is None or not self.kits:
            return
        task = asyncio.get_running_loop().create_task(
            self.send_to_conversation(conversation_id, message)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_to_conversation(self, conversation_id: str, message: OutboundMessage) -> bool:
        """Say ``message`` to the customer of a conversation on the channel they wrote from
        (agent replies, notices; proactive offers later). False when the conversation did
        not come through a channel (its customer listens on the API's event stream) or the
        send failed for good."""
        link = await self.state.by_conversation(conversation_id)
        if link is None:
            return False
        for (_, name), kit in self.kits.items():
            if name == link.channel and kit.app.id == link.app_id:
                return await kit.deliver(Peer(link.peer, link.address), message)
        log.warning("conversation %s: its channel %s is not served", conversation_id, link.channel)
        return False

    # --- lifetime ---------------------------------------------------------------------------

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for background work of this event loop (callbacks being answered, sends)."""
        loop = asyncio.get_running_loop()
        while True:
            tasks = [t for t in self._tasks if t.get_loop() is loop and not t.done()]
            if not tasks:
                return
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            if pending:
                return

    async def aclose(self) -> None:
        listeners = self._runtime.handoff.notify.listeners
        if self._on_customer_event in listeners:
            listeners.remove(self._on_customer_event)
        await self.drain(timeout_s=5.0)
        for kit in self.kits.values():
            if kit.channel is not None:
                await kit.channel.aclose()
