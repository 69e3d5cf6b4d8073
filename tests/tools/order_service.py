"""A small order service for tool tests (stdlib http.server, run in a thread) and the source of a
pretend company's in-house tools package."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

ORDER = {
    "status": "shipped",
    "carrier": "顺丰",
    "items": [{"name": "蓝牙耳机", "qty": 1}, {"name": "手机壳", "qty": 2}],
}


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Shop:
    """The running service: its base URL and every request it received."""

    url: str
    hits: list[Hit] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [hit.path for hit in self.hits]


class _Handler(BaseHTTPRequestHandler):
    server: ShopServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.shop.hits.append(Hit(self.command, self.path, headers, body))
        path = self.path.partition("?")[0]
        segments = [unquote(part) for part in path.strip("/").split("/")]
        if segments[0] == "orders" and len(segments) == 2:
            if segments[1].lstrip("#").upper() == "W1234567":
                return self._json(200, {"order_id": segments[1], **ORDER})
            return self._json(404, {"message": f"no order {segments[1]}"})
        if segments[0] == "orders" and segments[2:] == ["cancel"]:
            return self._json(200, {"cancelled": True, "received": json.loads(body)})
        if segments[0] == "things":
            return self._json(200, {"thing": segments[1]})
        if segments[0] == "flaky":
            return self._json(500, {"error": "database down"})
        if segments[0] == "busy":
            return self._json(429, {"message": "slow down"})
        if segments[0] == "slow":
            time.sleep(1.0)
            return self._json(200, {"late": True})
        if segments[0] == "reject":  # a badly behaved service that echoes the credentials
            return self._json(400, {"detail": f"token {headers.get('authorization')} rejected"})
        if segments[0] == "echo":
            return self._json(200, {"auth": headers.get("authorization"), "ok": True})
        if segments[0] == "html":
            return self._send(200, b"<html>maintenance</html>", "text/html")
        if segments[0] == "big":
            return self._send(200, b"[" + b"1," * 600_000 + b"1]", "application/json")
        return self._json(404, {"message": "no such route"})

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ShopServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.shop = Shop(f"http://127.0.0.1:{port}")

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) breaks the pipe; that is expected


SAMPLE_MODULE = '''
"""In-house tools of a pretend company, installed through the `kefu.tools` entry-point group."""

import asyncio
import time

from kefu.core.localized import LocalizedText
from kefu.tools import ToolResult


def lookup_points(member_id):
    """Look up a member's points."""
    return {"member_id": member_id, "points": 1200}


async def lookup_coupons(member_id, context):
    await asyncio.sleep(0)
    return {"coupons": ["满100减10"], "language": context.language}


def slow_lookup():
    time.sleep(0.4)
    return {}


def broken_lookup():
    raise RuntimeError("points database is down")


class StoreHours:
    name = "store_hours"
    description = LocalizedText(zh="门店营业时间", en="Store opening hours")
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    confirm = False

    async def call(self, arguments, *, context):
        return ToolResult("ok", data={"city": arguments.get("city"), "hours": "9:00-21:00"})
'''

ENTRY_POINTS = """
[kefu.tools]
sample_points = kefu_sample_tools:lookup_points
sample_coupons = kefu_sample_tools:lookup_coupons
sample_slow = kefu_sample_tools:slow_lookup
sample_broken = kefu_sample_tools:broken_lookup
sample_hours = kefu_sample_tools:StoreHours
sample_not_importable = kefu_sample_tools_gone:lookup
"""
