"""Proactive service over HTTP (docs/proactive.md): what customers do, the offers of help
that fire, and what they do with them.

- ``/web/…`` for the chat page and the widget: a page session (``POST /web/session``) names
  the visitor; browsers on other sites may call it from the app's ``web.allowed_origins``.
- ``/v1/…`` for the integrator's backend: an app key and ``user`` (or a signed identity).
  An offer for a customer whose conversation came through a channel (WeCom, Feishu, a
  webhook) is delivered there; the others come back in ``offers`` for the caller to show.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from kefu.api.deps import Caller, ChatCaller, KeyCaller, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.schemas import StrictBody
from kefu.appfile.proactive_config import EVENT_NAME_PATTERN
from kefu.channels.base import OutboundMessage
from kefu.channels.hub import ChannelHub
from kefu.core.errors import Forbidden
from kefu.core.localized import LocalizedText
from kefu.core.proactive_records import OfferRecord, OfferStatus
from kefu.core.types import Language
from kefu.services.proactive import Deliver, Offer, ProactiveEvent

__all__ = ["router"]

router = APIRouter(tags=["proactive"])

OfferId = Annotated[str, Path(max_length=64, description="the offer's id")]
Answer = Literal["accept", "dismiss"]
_STATUS: dict[str, OfferStatus] = {"accept": "accepted", "dismiss": "dismissed"}


class EventIn(StrictBody):
    """A customer did something: ``page_view``, ``cart``, ``order_paid`` or a custom name."""

    event: str = Field(pattern=EVENT_NAME_PATTERN, description="[a-z0-9_.-], 1-64 characters")
    properties: dict[str, Any] | None = Field(
        None, description="url or path, cart total… (at most 4 KB as JSON; null: none)"
    )
    conversation_id: str | None = Field(None, max_length=64)
    language: Language | None = Field(None, description="of the offer (default: the browser's)")
    user: str | None = Field(None, description="/v1 only: the customer (or a signed identity)")


class UserBody(StrictBody):
    user: str | None = None


def _language(body: EventIn, request: Request) -> Language | None:
    if body.language is not None:
        return body.language
    accepted = request.headers.get("accept-language", "").strip().lower()
    if accepted.startswith("zh"):
        return "zh"
    if accepted.startswith("en"):
        return "en"
    return None


def _event(body: EventIn, request: Request) -> ProactiveEvent:
    return ProactiveEvent(
        body.event, body.properties or {}, body.conversation_id, _language(body, request)
    )


def _visitor(caller: Caller) -> str:
    """The page session's visitor; a key belongs on ``/v1``."""
    if caller.via != "session":
        raise Forbidden("/web/… takes a page session (POST /web/session); backends use /v1/…")
    return caller.user(None)


def _offer_json(record: OfferRecord, message: LocalizedText | None) -> dict[str, Any]:
    language: Language = "en" if record.language == "en" else "zh"
    return {
        "id": record.id,
        "rule": record.rule,
        "status": record.status,
        "message": message.get(language) if message else None,
        "localized": message.model_dump() if message else None,
        "conversation_id": record.conversation_id,
    }


# --- the page and the widget -----------------------------------------------------------------


@router.post("/web/events")
async def page_event(
    body: EventIn, request: Request, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    """What the visitor did; the offers of help it fires (``[]`` most of the time)."""
    if body.user is not None:
        caller.user(body.user)  # a page may name only its own visitor
    offers = await runtime.proactive.handle(
        caller.app, _visitor(caller), _event(body, request), via="web"
    )
    return json_response({"offers": [offer.as_json() for offer in offers]})


@router.post("/web/offers/{offer_id}/{answer}")
async def page_answer(
    offer_id: OfferId, answer: Answer, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    """The visitor accepted or dismissed one of their offers."""
    record, message = await runtime.proactive.respond(
        caller.app, _visitor(caller), offer_id, _STATUS[answer]
    )
    return json_response(_offer_json(record, message))


@router.get("/web/events/opt-out")
async def page_opt_out_state(caller: ChatCaller, runtime: RuntimeDep) -> Response:
    opted_out = await runtime.proactive.opted_out(caller.app, _visitor(caller))
    return json_response({"opted_out": opted_out})


@router.post("/web/events/opt-out")
async def page_opt_out(caller: ChatCaller, runtime: RuntimeDep) -> Response:
    """The visitor never wants offers of help again."""
    await runtime.proactive.set_opt_out(caller.app, _visitor(caller), True)
    return json_response({"opted_out": True})


@router.delete("/web/events/opt-out")
async def page_opt_in(caller: ChatCaller, runtime: RuntimeDep) -> Response:
    """The visitor wants offers again."""
    await runtime.proactive.set_opt_out(caller.app, _visitor(caller), False)
    return json_response({"opted_out": False})


# --- backends and channels ---------------------------------------------------------------------


def _channel_delivery(request: Request) -> Deliver | None:
    hub: ChannelHub | None = getattr(request.app.state, "channels", None)
    if hub is None or not hub.kits:
        return None

    async def deliver(conversation_id: str, text: str, offer_id: str) -> bool:
        message = OutboundMessage(text, offer_id, "notice", conversation_id)
        return await hub.send_to_conversation(conversation_id, message)

    return deliver


@router.post("/v1/events")
async def backend_event(
    body: EventIn, request: Request, caller: KeyCaller, runtime: RuntimeDep
) -> Response:
    """What a customer did, as the integrator's backend saw it. ``offers``: to show the
    customer; ``delivered``: already sent to their channel conversation."""
    offers: list[Offer] = await runtime.proactive.handle(
        caller.app,
        caller.user(body.user),
        _event(body, request),
        via="api",
        deliver=_channel_delivery(request),
    )
    return json_response(
        {
            "offers": [offer.as_json() for offer in offers if not offer.delivered],
            "delivered": [offer.as_json() for offer in offers if offer.delivered],
        }
    )


@router.post("/v1/offers/{offer_id}/{answer}")
async def backend_answer(
    offer_id: OfferId,
    answer: Answer,
    caller: KeyCaller,
    runtime: RuntimeDep,
    body: UserBody | None = None,
) -> Response:
    user = caller.user(body.user if body else None)
    record, message = await runtime.proactive.respond(caller.app, user, offer_id, _STATUS[answer])
    return json_response(_offer_json(record, message))


@router.post("/v1/events/opt-out")
async def backend_opt_out(
    caller: KeyCaller, runtime: RuntimeDep, body: UserBody | None = None
) -> Response:
    await runtime.proactive.set_opt_out(caller.app, caller.user(body.user if body else None), True)
    return json_response({"opted_out": True})


@router.delete("/v1/events/opt-out")
async def backend_opt_in(
    caller: KeyCaller,
    runtime: RuntimeDep,
    user: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    await runtime.proactive.set_opt_out(caller.app, caller.user(user), False)
    return json_response({"opted_out": False})
