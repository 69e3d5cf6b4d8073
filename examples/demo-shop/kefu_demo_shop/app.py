"""The demo shop's HTTP API: the business system kefu's HTTP tools call in the demo."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu_demo_shop.bench import bench_router
from kefu_demo_shop.changes import ShopChanges, calculate
from kefu_demo_shop.data import ensure_database
from kefu_demo_shop.errors import ShopConfigError, ShopError
from kefu_demo_shop.faults import FaultSwitch, fault_router
from kefu_demo_shop.schemas import (
    AddressRequest,
    CalculateRequest,
    CancelRequest,
    ExchangeRequest,
    PaymentRequest,
    ReturnRequest,
    TransferRequest,
)
from kefu_demo_shop.store import ShopStore

__all__ = ["create_shop_app"]

log = logging.getLogger(__name__)
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}

Json = dict[str, Any]


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"status": status, "code": code, "message": message}, status_code=status, headers=headers
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShopError)
    async def _shop_error(_: Request, exc: ShopError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return _error(400, "bad_request", "The request body is not valid JSON.")
        field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        message = str(first.get("msg", "invalid request"))
        return _error(400, "invalid_param", f"{field}: {message}" if field else message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "bad_request")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, "internal_server_error", "Internal Server Error")


def _bearer_check(token: str | None) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        if token is None:
            return
        sent = request.headers.get("authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip(), token):
            raise ShopError(401, "unauthorized", "Send Authorization: Bearer <token>.")

    return check


def _shop_routes(store: ShopStore) -> APIRouter:
    router = APIRouter()

    @router.get("/users/find")
    def find_user(
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip_code: Annotated[str | None, Query(alias="zip")] = None,
    ) -> Json:
        """Find a user by email, by mobile number, or by first + last name and zip."""
        return store.find_user(
            email=email, phone=phone, first_name=first_name, last_name=last_name, zip_code=zip_code
        )

    @router.get("/users/{user_id}")
    def get_user(user_id: str) -> Json:
        return store.get_user(user_id)

    @router.get("/users/{user_id}/orders")
    def user_orders(user_id: str) -> Json:
        return store.user_orders(user_id)

    @router.get("/users/{user_id}/bills")
    def user_bills(user_id: str, month: str | None = None) -> Json:
        """小铺流量卡 bills: one month (``?month=YYYY-MM``) or the last six, newest first."""
        return store.bills(user_id, month)

    @router.get("/users/{user_id}/membership")
    def user_membership(user_id: str) -> Json:
        """Current level, this year's growth points and the level history, newest first."""
        return store.membership(user_id)

    @router.get("/orders/{order_id}")
    def get_order(order_id: str) -> Json:
        """An order by id: ``#W2378156``, ``W2378156`` or ``w2378156``."""
        return store.get_order(order_id)

    @router.post("/orders/{order_id}/cancel")
    def cancel_order(order_id: str, body: CancelRequest) -> Json:
        """Cancel a pending order; payments are refunded (gift cards at once)."""
        return store.cancel_order(order_id, body.reason, body.email)

    @router.post("/orders/{order_id}/return")
    def return_order(order_id: str, body: ReturnRequest) -> Json:
        """Request the return of a delivered order's items."""
        return store.return_items(order_id, body.item_ids, body.payment_method_id)

    @router.get("/products/{product_id}")
    def get_product(product_id: str) -> Json:
        return store.get_product(product_id)

    return router


def _agent_routes(changes: ShopChanges) -> APIRouter:
    """What τ²-bench retail's agent may do besides cancel and return (see ``changes``)."""
    router = APIRouter()

    @router.post("/orders/{order_id}/exchange")
    def exchange(order_id: str, body: ExchangeRequest) -> Json:
        """Exchange a delivered order's items for other variants of the same products."""
        return changes.exchange(order_id, body.item_ids, body.new_item_ids, body.payment_method_id)

    @router.post("/orders/{order_id}/items")
    def modify_items(order_id: str, body: ExchangeRequest) -> Json:
        """Swap a pending order's items for other variants (once per order)."""
        return changes.modify_items(
            order_id, body.item_ids, body.new_item_ids, body.payment_method_id
        )

    @router.post("/orders/{order_id}/address")
    def modify_order_address(order_id: str, body: AddressRequest) -> Json:
        return changes.modify_address(order_id, body.model_dump())

    @router.post("/orders/{order_id}/payment")
    def modify_payment(order_id: str, body: PaymentRequest) -> Json:
        return changes.modify_payment(order_id, body.payment_method_id)

    @router.post("/users/{user_id}/address")
    def modify_user_address(user_id: str, body: AddressRequest) -> Json:
        return changes.modify_user_address(user_id, body.model_dump())

    @router.get("/items/{item_id}")
    def get_item(item_id: str) -> Json:
        return changes.item(item_id)

    @router.get("/products")
    def product_types() -> Json:
        return changes.product_types()

    @router.post("/calculate")
    def calculate_expression(body: CalculateRequest) -> Json:
        return {"expression": body.expression, "result": calculate(body.expression)}

    @router.post("/transfers")
    def transfer(body: TransferRequest) -> Json:
        """Hand over to a human agent: nothing changes in the shop (as in τ²)."""
        return {"result": "Transfer successful", "summary": body.summary}

    return router


def create_shop_app(
    db_path: Path,
    *,
    token: str | None = None,
    faults: bool = False,
    bench: bool = False,
    source: Path | None = None,
    clock: Callable[[], date] = date.today,
) -> FastAPI:
    """The shop over an already loaded ``db_path`` (see ``ensure_database``).

    ``token``: require ``Authorization: Bearer <token>`` everywhere but ``/health``.
    ``faults``: enable ``/_faults`` and ``POST /_reset`` (reload from ``source``, see
    ``find_source``). ``bench``: enable ``/_bench/reset`` (reloading ``source``) and
    ``/_bench/state``. ``clock``: today, from which bill months are counted.
    """
    if not db_path.is_file():
        raise ShopConfigError(f"demo shop database {db_path} does not exist; load it first")
    store = ShopStore(db_path, clock)
    app = FastAPI(
        title="小铺优选 demo shop",
        description="Orders, products, bills and membership of the fictional shop XiaoPu "
        "Select, from τ²-bench retail data; the business system of kefu's demo.",
    )
    _install_error_handlers(app)
    auth = Depends(_bearer_check(token or None))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    switch = FaultSwitch()
    app.include_router(_shop_routes(store), dependencies=[auth, Depends(switch.apply)])
    app.include_router(
        _agent_routes(ShopChanges(store)), dependencies=[auth, Depends(switch.apply)]
    )
    if faults:
        reset = partial(ensure_database, db_path, source, reset=True)
        app.include_router(fault_router(switch, reset), dependencies=[auth])
    if bench:
        app.include_router(bench_router(db_path, source), dependencies=[auth])
    return app
