"""The WeCom server API calls the customer-service channel makes (qyapi.weixin.qq.com):
``gettoken``, ``kf/sync_msg``, ``kf/send_msg``, ``kf/send_msg_on_event``,
``kf/service_state/trans``. Every call carries the cached access token; a token WeCom calls
invalid or expired (40014, 42001) is fetched anew and the call made once more."""

from __future__ import annotations

from typing import Any

import httpx

from kefu.channels.access_token import AccessToken
from kefu.channels.base import SendFailed, platform_json

__all__ = ["TOKEN_ERRORS", "WeComApi", "WeComError"]

TOKEN_ERRORS = frozenset({40014, 42001})  # invalid access_token, access_token expired
BUSY = frozenset({-1, 45009, 45033})  # system busy, rate limits: worth retrying later


class WeComError(SendFailed):
    """WeCom answered with a non-zero ``errcode``."""

    def __init__(self, path: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"{path}: errcode {errcode} {errmsg}", retryable=errcode in BUSY)
        self.errcode = errcode


class WeComApi:
    def __init__(self, base_url: str, corp_id: str, secret: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._corp_id = corp_id
        self._secret = secret
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None
        self.token = AccessToken(self._fetch_token)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout_s)
        return self._http

    async def _fetch_token(self) -> tuple[str, float]:
        response = await self._client().get(
            "/cgi-bin/gettoken", params={"corpid": self._corp_id, "corpsecret": self._secret}
        )
        data = platform_json(response, "gettoken")
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            raise WeComError("gettoken", int(data.get("errcode", -1)), str(data.get("errmsg")))
        return str(data["access_token"]), float(data.get("expires_in", 7200))

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``/cgi-bin/<path>``; the answer, or ``WeComError``."""
        for attempt in (1, 2):
            token = await self.token.get()
            response = await self._client().post(
                f"/cgi-bin/{path}", params={"access_token": token}, json=body
            )
            data = platform_json(response, path)
            errcode = int(data.get("errcode", 0))
            if errcode in TOKEN_ERRORS and attempt == 1:
                self.token.invalidate(token)
                continue
            if errcode != 0:
                raise WeComError(path, errcode, str(data.get("errmsg", "")))
            return data
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
