"""The demo shop as the benchmark sees it: reset, fingerprint, and replay of gold actions.

τ² grades an episode by the final database: the shop after the episode must equal a fresh
shop after the task's gold actions. The gold actions are τ² tool calls; each maps here to
the shop endpoint that kefu's ``demo-shop-agent`` tool of the same name calls. Read-only
actions cannot change the state, so only the writes are replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kefu.core.errors import ConfigError
from kefu.evaluation.tau2_tasks import GoldAction

__all__ = ["WRITE_ACTIONS", "ShopClient", "ShopState"]

_ADDRESS = ("address1", "address2", "city", "state", "country", "zip")


def _order(arguments: Mapping[str, Any]) -> str:
    return quote(str(arguments["order_id"]), safe="")


def _pick(arguments: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: arguments[name] for name in names if name in arguments}


# τ² write tool → (path, body) of the shop request that does the same.
WRITE_ACTIONS: dict[str, Any] = {
    "cancel_pending_order": lambda a: (f"/orders/{_order(a)}/cancel", _pick(a, "reason")),
    "return_delivered_order_items": lambda a: (
        f"/orders/{_order(a)}/return",
        _pick(a, "item_ids", "payment_method_id"),
    ),
    "exchange_delivered_order_items": lambda a: (
        f"/orders/{_order(a)}/exchange",
        _pick(a, "item_ids", "new_item_ids", "payment_method_id"),
    ),
    "modify_pending_order_items": lambda a: (
        f"/orders/{_order(a)}/items",
        _pick(a, "item_ids", "new_item_ids", "payment_method_id"),
    ),
    "modify_pending_order_address": lambda a: (
        f"/orders/{_order(a)}/address",
        _pick(a, *_ADDRESS),
    ),
    "modify_pending_order_payment": lambda a: (
        f"/orders/{_order(a)}/payment",
        _pick(a, "payment_method_id"),
    ),
    "modify_user_address": lambda a: (
        f"/users/{quote(str(a['user_id']), safe='')}/address",
        _pick(a, *_ADDRESS),
    ),
}


@dataclass(frozen=True, slots=True)
class ShopState:
    """The shop's fingerprint: one hash, and one per row (``orders/#W…``, ``users/…``)."""

    hash: str
    rows: dict[str, str]

    def differing_rows(self, other: ShopState) -> list[str]:
        keys = self.rows.keys() | other.rows.keys()
        return sorted(k for k in keys if self.rows.get(k) != other.rows.get(k))


class ShopClient:
    """Talks to a shop started with ``--bench`` (``kefu-demo-shop serve --bench``)."""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 60) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"the demo shop at {self.base_url} does not answer ({type(exc).__name__}); "
                "start it with `kefu-demo-shop serve --bench`",
                key="--shop",
            ) from None

    async def _bench(self, method: str, path: str) -> dict[str, Any]:
        response = await self._call(method, f"/_bench/{path}")
        if response.status_code == 404:
            raise ConfigError(
                f"the demo shop at {self.base_url} has no /_bench endpoints; restart it with "
                "`kefu-demo-shop serve --bench` (or KEFU_DEMO_SHOP_BENCH=1)",
                key="--shop",
            )
        if response.status_code != 200:
            raise ConfigError(
                f"the demo shop answered HTTP {response.status_code} to /_bench/{path}: "
                f"{response.text[:200]}",
                key="--shop",
            )
        data: dict[str, Any] = response.json()
        return data

    async def reset(self) -> None:
        """Back to the source data: every change of an earlier episode is gone."""
        await self._bench("POST", "reset")

    async def state(self) -> ShopState:
        data = await self._bench("GET", "state")
        return ShopState(str(data["hash"]), dict(data["rows"]))

    async def apply(self, action: GoldAction) -> str | None:
        """Do a gold write action; None when it worked, else the shop's error."""
        build = WRITE_ACTIONS.get(action.name)
        if build is None:
            return None  # a read, a calculation or a transfer: the state stays as it is
        try:
            path, body = build(action.arguments)
        except KeyError as exc:
            return f"{action.name}: argument {exc} missing"
        response = await self._call("POST", path, json=body)
        if response.status_code >= 300:
            return f"{action.name}: HTTP {response.status_code} {response.text[:200]}"
        return None

    async def gold_state(self, actions: tuple[GoldAction, ...]) -> tuple[ShopState, list[str]]:
        """The state a fresh shop is in after ``actions``, and the actions that failed."""
        await self.reset()
        errors = [error for action in actions if (error := await self.apply(action))]
        return await self.state(), errors
