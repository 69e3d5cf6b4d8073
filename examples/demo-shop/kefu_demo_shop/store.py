"""Reads and the two state changes (cancel, return) over the shop's SQLite file.

Cancel and return follow τ²-bench retail's rules (policy.md): only a pending order can be
cancelled, for "no longer needed" or "ordered by mistake", and every payment is refunded to
its method (a gift card at once); only a delivered order's own items can be returned, the
refund going to the original payment method or one of the user's gift cards.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from kefu_demo_shop.errors import ShopError
from kefu_demo_shop.membership import LEVELS, membership_for
from kefu_demo_shop.seed_extra import bill_for, months_ago_for, recent_bills

__all__ = [
    "CANCEL_REASONS",
    "ShopStore",
    "normalize_order_id",
    "normalize_phone",
    "order_view",
]

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
ORDER_CURRENCY = "CNY"


def normalize_order_id(raw: str) -> str:
    """``#W2378156``, ``W2378156``, ``w2378156`` and ``2378156`` all name ``#W2378156``."""
    text = raw.strip().lstrip("#").upper()
    if text.isdigit():
        text = f"W{text}"
    if not re.fullmatch(r"W\d{1,12}", text):
        raise ShopError(
            400, "invalid_param", f"order_id: {raw!r} is not an order id like #W1234567"
        )
    return f"#{text}"


def normalize_phone(raw: str) -> str:
    """An 11-digit mainland mobile number from what people type (+86, spaces, dashes)."""
    digits = re.sub(r"[\s\-()]", "", raw)
    digits = re.sub(r"^(\+86|0086|86)(?=1\d{10}$)", "", digits)
    if not re.fullmatch(r"1\d{10}", digits):
        raise ShopError(400, "invalid_param", f"phone: {raw!r} is not a mainland mobile number")
    return digits


def _user_view(row: sqlite3.Row, order_ids: list[str], level: str) -> dict[str, Any]:
    info = next(lv for lv in LEVELS if lv.code == level)
    return {
        "user_id": row["user_id"],
        "name": {"first_name": row["first_name"], "last_name": row["last_name"]},
        "full_name": f"{row['first_name']} {row['last_name']}",
        "email": row["email"],
        "phone": row["phone"],
        "address": json.loads(row["address"]),
        "payment_methods": list(json.loads(row["payment_methods"]).values()),
        "membership": {"level": info.code, "level_name": info.name, "level_name_en": info.name_en},
        "order_ids": order_ids,
    }


def _order_total(items: list[dict[str, Any]]) -> float:
    return round(sum(item["price"] for item in items), 2)


def order_view(row: sqlite3.Row) -> dict[str, Any]:
    items = json.loads(row["items"])
    return {
        "order_id": row["order_id"],
        "user_id": row["user_id"],
        "status": row["status"],
        "created_at": None,  # τ²-bench records no order dates
        "address": json.loads(row["address"]),
        "items": items,
        "fulfillments": json.loads(row["fulfillments"]),
        "payment_history": json.loads(row["payment_history"]),
        "total": _order_total(items),
        "currency": ORDER_CURRENCY,
        **json.loads(row["details"]),
    }


class ShopStore:
    """The shop's data: one short-lived connection per call, safe across server threads."""

    def __init__(self, db_path: Path, clock: Callable[[], date] = date.today) -> None:
        self.db_path = db_path
        self.clock = clock

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            # Writes read-modify-write one order: take the write lock before reading it.
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    # --- users -------------------------------------------------------------------------

    def _user_row(self, conn: sqlite3.Connection, user_id: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM users WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            raise ShopError(404, "user_not_found", f"No user with id {user_id!r}.")
        return row

    def _user(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        order_ids = [
            r[0]
            for r in conn.execute(
                "SELECT order_id FROM orders WHERE user_id = ? ORDER BY position", (row["user_id"],)
            )
        ]
        level = membership_for(row["user_id"], self.clock())["level"]
        return _user_view(row, order_ids, level)

    def get_user(self, user_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            return self._user(conn, self._user_row(conn, user_id))

    def find_user(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip_code: str | None = None,
    ) -> dict[str, Any]:
        """The user with this email, this phone, or this first name + last name + zip."""
        if email:
            query, args, what = "email = ? COLLATE NOCASE", [email.strip()], f"email {email!r}"
        elif phone:
            number = normalize_phone(phone)
            query, args, what = "phone = ?", [number], f"phone {number}"
        elif first_name and last_name and zip_code:
            query = "first_name = ? COLLATE NOCASE AND last_name = ? COLLATE NOCASE AND zip = ?"
            args = [first_name.strip(), last_name.strip(), zip_code.strip()]
            what = f"name {first_name} {last_name} and zip {zip_code}"
        else:
            raise ShopError(
                400,
                "invalid_param",
                "Give email, or phone, or first_name + last_name + zip to find a user.",
            )
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT * FROM users WHERE {query} ORDER BY user_id LIMIT 1", args
            ).fetchone()
            if row is None:
                raise ShopError(404, "user_not_found", f"No user with {what}.")
            return self._user(conn, row)

    def user_orders(self, user_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            self._user_row(conn, user_id)
            rows = conn.execute(
                "SELECT * FROM orders WHERE user_id = ? ORDER BY position", (user_id,)
            ).fetchall()
        orders = []
        for row in rows:
            items = json.loads(row["items"])
            orders.append(
                {
                    "order_id": row["order_id"],
                    "status": row["status"],
                    "created_at": None,
                    "item_count": len(items),
                    "total": _order_total(items),
                    "currency": ORDER_CURRENCY,
                }
            )
        return {"user_id": user_id, "orders": orders}

    def bills(self, user_id: str, month: str | None = None) -> dict[str, Any]:
        """One month's bill (``YYYY-MM``), or the recent bills newest first."""
        with self._connect() as conn:
            self._user_row(conn, user_id)
        today = self.clock()
        if month is not None:
            return {"user_id": user_id, **bill_for(user_id, months_ago_for(month, today), today)}
        return {"user_id": user_id, "bills": recent_bills(user_id, today)}

    def membership(self, user_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            self._user_row(conn, user_id)
        return membership_for(user_id, self.clock())

    # --- orders and products -----------------------------------------------------------

    def _order_row(self, conn: sqlite3.Connection, order_id: str) -> sqlite3.Row:
        oid = normalize_order_id(order_id)
        row = conn.execute("SELECT * FROM orders WHERE order_id = ?", (oid,)).fetchone()
        if row is None:
            raise ShopError(404, "order_not_found", f"No order {oid}.")
        return row

    def get_order(self, order_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            return order_view(self._order_row(conn, order_id))

    def get_product(self, product_id: str) -> dict[str, Any]:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM products WHERE product_id = ?", (product_id.strip(),)
            ).fetchone()
        if row is None:
            raise ShopError(404, "product_not_found", f"No product with id {product_id!r}.")
        variants = list(json.loads(row["variants"]).values())
        return {
            "product_id": row["product_id"],
            "name": row["name"],
            "variants": variants,
            "available_variants": sum(1 for v in variants if v["available"]),
            "currency": ORDER_CURRENCY,
        }

    def cancel_order(self, order_id: str, reason: str, email: str | None = None) -> dict[str, Any]:
        """Cancel a pending order and refund every payment to its method. With ``email``,
        the order must belong to that customer (τ² policy: one authenticated user)."""
        if reason not in CANCEL_REASONS:
            raise ShopError(
                400, "invalid_param", f"reason: must be one of {', '.join(CANCEL_REASONS)}"
            )
        with self._connect(write=True) as conn:
            row = self._order_row(conn, order_id)
            owner = self._user_row(conn, row["user_id"])
            if email is not None and owner["email"].lower() != email.strip().lower():
                raise ShopError(
                    403, "not_your_order", f"Order {row['order_id']} is not this customer's."
                )
            if row["status"] != "pending":
                raise ShopError(
                    409,
                    "order_not_pending",
                    f"Order {row['order_id']} is {row['status']}; only pending orders can be "
                    "cancelled.",
                )
            user = self._user_row(conn, row["user_id"])
            methods = json.loads(user["payment_methods"])
            history = json.loads(row["payment_history"])
            refunds = []
            for payment in history:
                if payment["transaction_type"] != "payment":
                    continue
                method_id = payment["payment_method_id"]
                refunds.append({**payment, "transaction_type": "refund"})
                method = methods.get(method_id, {})
                if method.get("source") == "gift_card":  # gift cards are refunded at once
                    method["balance"] = round(method["balance"] + payment["amount"], 2)
            details = {**json.loads(row["details"]), "cancel_reason": reason}
            conn.execute(
                "UPDATE orders SET status = 'cancelled', payment_history = ?, details = ? "
                "WHERE order_id = ?",
                (json.dumps(history + refunds), json.dumps(details), row["order_id"]),
            )
            conn.execute(
                "UPDATE users SET payment_methods = ? WHERE user_id = ?",
                (json.dumps(methods), user["user_id"]),
            )
            return order_view(self._order_row(conn, row["order_id"]))

    def return_items(
        self, order_id: str, item_ids: list[str], payment_method_id: str
    ) -> dict[str, Any]:
        """Request the return of a delivered order's items; status → ``return requested``."""
        if not item_ids:
            raise ShopError(400, "invalid_param", "item_ids: give at least one item to return")
        with self._connect(write=True) as conn:
            row = self._order_row(conn, order_id)
            oid = row["order_id"]
            if row["status"] != "delivered":
                raise ShopError(
                    409,
                    "order_not_delivered",
                    f"Order {oid} is {row['status']}; only delivered orders can be returned.",
                )
            in_order = Counter(item["item_id"] for item in json.loads(row["items"]))
            for item_id, count in Counter(item_ids).items():
                if in_order[item_id] < count:
                    raise ShopError(
                        400, "invalid_param", f"item_ids: item {item_id} is not in order {oid}"
                    )
            methods = json.loads(self._user_row(conn, row["user_id"])["payment_methods"])
            original = json.loads(row["payment_history"])[0]["payment_method_id"]
            method = methods.get(payment_method_id)
            if method is None:
                raise ShopError(
                    400,
                    "invalid_param",
                    f"payment_method_id: {payment_method_id!r} is not one of the user's",
                )
            if payment_method_id != original and method["source"] != "gift_card":
                raise ShopError(
                    400,
                    "invalid_param",
                    "payment_method_id: refunds go to the original payment method "
                    f"({original}) or a gift card",
                )
            details = {
                **json.loads(row["details"]),
                "return_items": sorted(item_ids),
                "return_payment_method_id": payment_method_id,
            }
            conn.execute(
                "UPDATE orders SET status = 'return requested', details = ? WHERE order_id = ?",
                (json.dumps(details), oid),
            )
            return order_view(self._order_row(conn, oid))
