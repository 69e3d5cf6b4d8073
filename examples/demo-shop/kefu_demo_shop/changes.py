"""The other state changes τ²-bench retail's agent may make, with its policy enforced.

- exchange: only a *delivered* order's own items, each for an available variant of the same
  product; a gift card paying the difference must cover it; status → ``exchange requested``.
- modify items: only a *pending* order (exactly ``pending``: once per order), same rules;
  the difference is paid or refunded on the given method at once; status →
  ``pending (item modified)``.
- modify address / payment: a pending order (``pending (item modified)`` too); the new
  payment method must differ from the single original payment and, a gift card, cover it.
- change a user's default address.

Each follows τ² retail's ``tools.py`` (MIT) step by step, so the final database of an
episode can be compared with the one its gold actions give. One deliberate difference:
τ² prices every modified item at the *last* new variant's price (a slip in its loop); here
each item takes its own new variant's price. Gold actions are replayed on this same code,
so grading is unaffected.
"""

from __future__ import annotations

import ast
import json
import operator
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

from kefu_demo_shop.errors import ShopError
from kefu_demo_shop.store import ShopStore, order_view

__all__ = ["ShopChanges", "calculate"]

Json = dict[str, Any]
_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def calculate(expression: str) -> str:
    """τ²'s ``calculate``: + - * / and parentheses, the result rounded to 2 places.

    Parsed with ``ast`` and evaluated node by node (never ``eval``) so nothing but arithmetic
    can run.
    """
    if not expression.strip() or not all(ch in "0123456789+-*/(). " for ch in expression):
        raise ShopError(400, "invalid_param", "expression: only digits, + - * / ( ) . allowed")

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        raise ValueError("not arithmetic")

    try:
        result = value(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        raise ShopError(400, "invalid_param", f"expression: {exc}") from None
    return str(round(result, 2))


_SHORT_BALANCE = "The gift card cannot cover the difference."


def _payment(kind: str, amount: float, method_id: str) -> Json:
    return {"transaction_type": kind, "amount": amount, "payment_method_id": method_id}


def _conflict(code: str, message: str) -> ShopError:
    return ShopError(409, code, message)


def _invalid(message: str) -> ShopError:
    return ShopError(400, "invalid_param", message)


class ShopChanges:
    """Exchange, modify items/address/payment, change a default address."""

    def __init__(self, store: ShopStore) -> None:
        self.store = store

    # --- helpers -----------------------------------------------------------------------

    def _variant(self, conn: sqlite3.Connection, product_id: str, item_id: str) -> Json:
        row = conn.execute(
            "SELECT variants FROM products WHERE product_id = ?", (product_id,)
        ).fetchone()
        if row is None:
            raise ShopError(404, "product_not_found", f"No product with id {product_id!r}.")
        variant = json.loads(row["variants"]).get(item_id)
        if variant is None:
            raise _invalid(f"new_item_ids: {item_id} is not a variant of product {product_id}")
        if not variant["available"]:
            raise _conflict("item_not_available", f"Item {item_id} is not available.")
        return dict(variant)

    def _swaps(
        self,
        conn: sqlite3.Connection,
        items: list[Json],
        item_ids: list[str],
        new_item_ids: list[str],
        *,
        distinct: bool,
    ) -> tuple[list[tuple[Json, Json]], float]:
        """Each old item with its new variant, and the price difference (new − old)."""
        if not item_ids:
            raise _invalid("item_ids: give at least one item")
        in_order = Counter(item["item_id"] for item in items)
        for item_id, count in Counter(item_ids).items():
            if in_order[item_id] < count:
                raise _invalid(f"item_ids: item {item_id} is not in the order")
        if len(item_ids) != len(new_item_ids):
            raise _invalid("new_item_ids: one new item for each item in item_ids")
        swaps = []
        taken: set[int] = set()
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            if distinct and item_id == new_item_id:
                raise _invalid(f"new_item_ids: {new_item_id} is the item itself")
            index = next(
                i for i, item in enumerate(items) if item["item_id"] == item_id and i not in taken
            )
            taken.add(index)
            variant = self._variant(conn, items[index]["product_id"], new_item_id)
            swaps.append((items[index], variant))
        diff = round(sum(v["price"] - item["price"] for item, v in swaps), 2)
        return swaps, diff

    @staticmethod
    def _method(methods: Json, payment_method_id: str) -> Json:
        method = methods.get(payment_method_id)
        if method is None:
            raise _invalid(f"payment_method_id: {payment_method_id!r} is not one of the user's")
        return dict(method)

    @staticmethod
    def _need_status(row: sqlite3.Row, allowed: Callable[[str], bool], action: str) -> None:
        if not allowed(row["status"]):
            want = "delivered" if action == "exchanged" else "pending"
            raise _conflict(
                f"order_not_{want}",
                f"Order {row['order_id']} is {row['status']}; only {want} orders can be {action}.",
            )

    def _save_methods(self, conn: sqlite3.Connection, user_id: str, methods: Json) -> None:
        conn.execute(
            "UPDATE users SET payment_methods = ? WHERE user_id = ?",
            (json.dumps(methods), user_id),
        )

    # --- actions -----------------------------------------------------------------------

    def exchange(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> Json:
        """Exchange delivered items for other variants of the same products."""
        with self.store._connect(write=True) as conn:
            row = self.store._order_row(conn, order_id)
            self._need_status(row, lambda s: s == "delivered", "exchanged")
            _, diff = self._swaps(
                conn, json.loads(row["items"]), item_ids, new_item_ids, distinct=False
            )
            user = self.store._user_row(conn, row["user_id"])
            method = self._method(json.loads(user["payment_methods"]), payment_method_id)
            if method["source"] == "gift_card" and method["balance"] < diff:
                raise _conflict("insufficient_balance", _SHORT_BALANCE)
            details = {
                **json.loads(row["details"]),
                "exchange_items": sorted(item_ids),
                "exchange_new_items": sorted(new_item_ids),
                "exchange_payment_method_id": payment_method_id,
                "exchange_price_difference": diff,
            }
            conn.execute(
                "UPDATE orders SET status = 'exchange requested', details = ? WHERE order_id = ?",
                (json.dumps(details), row["order_id"]),
            )
            return order_view(self.store._order_row(conn, row["order_id"]))

    def modify_items(
        self, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> Json:
        """Swap a pending order's items for other variants; once per order."""
        with self.store._connect(write=True) as conn:
            row = self.store._order_row(conn, order_id)
            self._need_status(row, lambda s: s == "pending", "modified")
            items = json.loads(row["items"])
            swaps, diff = self._swaps(conn, items, item_ids, new_item_ids, distinct=True)
            user = self.store._user_row(conn, row["user_id"])
            methods = json.loads(user["payment_methods"])
            method = self._method(methods, payment_method_id)
            if method["source"] == "gift_card" and method["balance"] < diff:
                raise _conflict("insufficient_balance", _SHORT_BALANCE)
            history = json.loads(row["payment_history"])
            history.append(
                {
                    "transaction_type": "payment" if diff > 0 else "refund",
                    "amount": abs(diff),
                    "payment_method_id": payment_method_id,
                }
            )
            if method["source"] == "gift_card":
                methods[payment_method_id]["balance"] = round(method["balance"] - diff, 2)
            for item, variant in swaps:
                item.update(item_id=variant["item_id"], price=variant["price"])
                item["options"] = variant["options"]
            conn.execute(
                "UPDATE orders SET status = 'pending (item modified)', items = ?, "
                "payment_history = ? WHERE order_id = ?",
                (json.dumps(items), json.dumps(history), row["order_id"]),
            )
            self._save_methods(conn, user["user_id"], methods)
            return order_view(self.store._order_row(conn, row["order_id"]))

    def modify_address(self, order_id: str, address: Json) -> Json:
        """Ship a pending order to another address."""
        with self.store._connect(write=True) as conn:
            row = self.store._order_row(conn, order_id)
            self._need_status(row, lambda s: "pending" in s, "modified")
            conn.execute(
                "UPDATE orders SET address = ? WHERE order_id = ?",
                (json.dumps(address), row["order_id"]),
            )
            return order_view(self.store._order_row(conn, row["order_id"]))

    def modify_payment(self, order_id: str, payment_method_id: str) -> Json:
        """Pay a pending order with another of the user's methods; the old one is refunded."""
        with self.store._connect(write=True) as conn:
            row = self.store._order_row(conn, order_id)
            self._need_status(row, lambda s: "pending" in s, "modified")
            user = self.store._user_row(conn, row["user_id"])
            methods = json.loads(user["payment_methods"])
            method = self._method(methods, payment_method_id)
            history = json.loads(row["payment_history"])
            if len(history) != 1 or history[0]["transaction_type"] != "payment":
                raise _conflict(
                    "payment_not_changeable", "Only an order with one payment can change method."
                )
            old_id = history[0]["payment_method_id"]
            if old_id == payment_method_id:
                raise _invalid("payment_method_id: the order is already paid with it")
            amount = history[0]["amount"]
            if method["source"] == "gift_card" and method["balance"] < amount:
                raise _conflict("insufficient_balance", "The gift card cannot cover the order.")
            history += [
                _payment("payment", amount, payment_method_id),
                _payment("refund", amount, old_id),
            ]
            if method["source"] == "gift_card":
                methods[payment_method_id]["balance"] = round(method["balance"] - amount, 2)
            old = methods.get(old_id)
            if old is not None and old["source"] == "gift_card":
                old["balance"] = round(old["balance"] + amount, 2)
            conn.execute(
                "UPDATE orders SET payment_history = ? WHERE order_id = ?",
                (json.dumps(history), row["order_id"]),
            )
            self._save_methods(conn, user["user_id"], methods)
            return order_view(self.store._order_row(conn, row["order_id"]))

    def modify_user_address(self, user_id: str, address: Json) -> Json:
        """Change a user's default address."""
        with self.store._connect(write=True) as conn:
            self.store._user_row(conn, user_id)
            conn.execute(
                "UPDATE users SET address = ?, zip = ? WHERE user_id = ?",
                (json.dumps(address), address["zip"], user_id),
            )
            return self.store._user(conn, self.store._user_row(conn, user_id))

    # --- reads τ² has and the shop lacked ----------------------------------------------

    def item(self, item_id: str) -> Json:
        """A variant by item id, with its product's id and name."""
        with self.store._connect() as conn:
            for row in conn.execute("SELECT product_id, name, variants FROM products"):
                variant = json.loads(row["variants"]).get(item_id.strip())
                if variant is not None:
                    return {**variant, "product_id": row["product_id"], "product_name": row["name"]}
        raise ShopError(404, "item_not_found", f"No item with id {item_id!r}.")

    def product_types(self) -> Json:
        """Every product's name and id, by name."""
        with self.store._connect() as conn:
            rows = conn.execute("SELECT name, product_id FROM products ORDER BY name").fetchall()
        return {"products": {row["name"]: row["product_id"] for row in rows}}
