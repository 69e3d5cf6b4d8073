"""Channel callbacks: ``/channels/<app>/<channel>`` (and paths below it), handed to the
channel as a plain request (kefu.channels knows no web framework)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kefu.api.errors import ApiError
from kefu.channels.base import ChannelRequest
from kefu.channels.hub import ChannelHub

__all__ = ["router"]

router = APIRouter(tags=["channels"])
METHODS = ["GET", "POST"]


def hub_of(request: Request) -> ChannelHub:
    hub: ChannelHub = request.app.state.channels
    return hub


# Out of the OpenAPI schema: platforms call these, not API clients, and each channel
# defines its own bodies (WeCom XML, Feishu events, signed webhooks).
@router.api_route("/channels/{app}/{channel}", methods=METHODS, include_in_schema=False)
@router.api_route("/channels/{app}/{channel}/{path:path}", methods=METHODS, include_in_schema=False)
async def channel_callback(app: str, channel: str, request: Request, path: str = "") -> Response:
    hub = hub_of(request)
    reason = hub.unavailable.get((app, channel))
    if reason is not None:
        raise ApiError(503, "channel_unavailable", f"channel {channel!r} is off: {reason}")
    received = ChannelRequest(
        method=request.method,
        path=path,
        query=dict(request.query_params),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.body(),
    )
    answer = await hub.receive(app, channel, received)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
