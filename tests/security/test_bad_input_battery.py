"""The bad-input battery: hundreds of hostile requests, generated from kefu's own route table
(its OpenAPI document) and sent to a real ``kefu serve``. Every one must be answered — no 5xx,
no hang (a client timeout per request) — and every refusal on the API must be the envelope.

For each route: wrong methods; no, malformed and wrong-kind credentials; bodies that are not
JSON, not objects, or too deep; each body field and query parameter given the wrong type, a
huge value, control characters and Unicode oddities (lone surrogates, bidi overrides,
zero-width joiners, stacked combining marks); path parameters with traversal, NUL, invalid
UTF-8, SQL and very long ids. A few raw-socket requests add what an HTTP client will not send.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.security.conftest import Target

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT_S = 15.0  # a hang, not a slow answer, is what this catches
WRONG_TYPES: list[Any] = [12345, -1, 1e308, True, None, [], ["a", 1], {"$ne": 1}]
HOSTILE_TEXT = [
    "x" * 100_000,  # huge
    "\x00\x01\x1b[31mred\x7f",  # control characters
    "\ud800lone surrogate",  # encoded as the JSON escape \\ud800
    "\u202eevil\u202c\u2066rtl\u2069",  # bidi overrides
    "zero\u200d\u200bwidth\ufeff",
    "e" + "\u0301" * 2000,  # stacked combining marks
    "💩🏳️‍🌈" * 50,
    "' OR 1=1 --; DROP TABLE apps;",
    "{{7*7}}${jndi:ldap://x}<script>alert(1)</script>",
]
HOSTILE_PATH = [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%00",
    "a" * 5000,
    "%FF%FE",
    "%F0%9F%92%A9",
    "1%20OR%201%3D1",
    "-1",
    "0192f3c4-0000-7000-8000-000000000000",  # the shape of an id, naming nothing
]
BAD_BODIES: list[bytes] = [
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"1e999999",
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' * 2000 + b"1" + b"}" * 2000,
    b"\xff\xfe\x00{}",
    b'{"query": "hi", "query": 5}',
]


@dataclass
class Case:
    method: str
    path: str
    what: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    params: dict[str, Any] | None = None


@dataclass
class Credentials:
    app: list[str]
    dataset: str
    agent: str
    admin: dict[str, str]
    _turn: Iterator[int] = field(default_factory=itertools.count)

    def for_path(self, path: str) -> dict[str, str]:
        """The right credential for the route, so a mutation reaches validation (several app
        keys in turn: the battery must not spend its time on one key's rate limit)."""
        if path.startswith("/admin"):
            return self.admin
        if path.startswith("/v1/datasets"):
            return {"Authorization": f"Bearer {self.dataset}"}
        if path.startswith("/v1/agent"):
            return {"Authorization": f"Bearer {self.agent}"}
        if path.startswith("/v1"):
            key = self.app[next(self._turn) % len(self.app)]
            return {"Authorization": f"Bearer {key}"}
        return {}


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def sample_body(schema: dict[str, Any], spec: dict[str, Any], n: int) -> dict[str, Any]:
    """A body that has each required field, with plausible values."""
    body: dict[str, Any] = {}
    for name in resolve(schema, spec).get("required", []):
        body[name] = {
            "query": "订单多久发货?",
            "user": f"battery-{n}",
            "model": "demo-shop",
            "messages": [{"role": "user", "content": "hi"}],
            "name": f"battery-{n}",
            "kind": "app",
            "apps": ["demo-shop"],
            "text": "hello",
            "content": "hello",
            "question": "q?",
            "answer": "a.",
            "segments": [{"content": "x"}],
            "rating": 3,
            "online": True,
        }.get(name, "x")
    return body


def json_bytes(value: Any) -> bytes:
    # ensure_ascii keeps a lone surrogate as the escape \\ud800, which is valid JSON text.
    return json.dumps(value, ensure_ascii=True).encode()


def generate(spec: dict[str, Any], creds: Credentials) -> list[Case]:
    cases: list[Case] = []
    n = itertools.count()
    for template, operations in spec["paths"].items():
        concrete = template
        for part in (p for p in template.split("/") if p.startswith("{")):
            concrete = concrete.replace(part, "0192f3c4-0000-7000-8000-000000000000")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method.lower() not in operations:
                cases.append(Case(method, concrete, "wrong method", creds.for_path(concrete)))
        for method, operation in operations.items():
            method = method.upper()
            right = creds.for_path(concrete)
            if right:
                for what, auth in (
                    ("no credentials", {}),
                    ("empty bearer", {"Authorization": "Bearer"}),
                    ("basic auth", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
                    ("unknown key", {"Authorization": "Bearer app-" + "z" * 32}),
                    ("huge key", {"Authorization": "Bearer " + "k" * 8000}),
                    ("forged session", {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}),
                    ("wrong kind", creds.for_path("/admin" if "admin" not in concrete else "/v1")),
                ):
                    cases.append(Case(method, concrete, what, auth))
            for part in (p for p in template.split("/") if p.startswith("{")):
                for hostile in HOSTILE_PATH:
                    path = concrete.replace("0192f3c4-0000-7000-8000-000000000000", hostile, 1)
                    if part != template.split("/")[-1] and hostile == "a" * 5000:
                        continue
                    cases.append(Case(method, path, f"path {part}={hostile[:20]}", right))
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for value in [
                    *WRONG_TYPES[:3],
                    "",
                    "q" * 16_000,
                    HOSTILE_TEXT[1],
                    *HOSTILE_TEXT[3:6],
                ]:
                    params = {parameter["name"]: value if value is not None else ""}
                    what = f"query {parameter['name']}={str(value)[:20]!r}"
                    cases.append(Case(method, concrete, what, right, params=params))
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            json_headers = {**right, "Content-Type": "application/json"}
            for raw in BAD_BODIES:
                cases.append(Case(method, concrete, f"body {raw[:12]!r}", json_headers, raw))
            cases.append(
                Case(method, concrete, "text/plain body", {**right, "Content-Type": "text/plain"},
                     b"query=hi")
            )  # fmt: skip
            properties = resolve(schema, spec).get("properties", {})
            for name in properties:
                for value in [*WRONG_TYPES, *HOSTILE_TEXT]:
                    body = sample_body(schema, spec, next(n))
                    body[name] = value
                    what = f"field {name}={str(value)[:20]!r}"
                    cases.append(Case(method, concrete, what, json_headers, json_bytes(body)))
    return cases


def send(client: httpx.Client, case: Case, n: int) -> tuple[Case, int, bytes, str]:
    headers = {**case.headers, "X-Forwarded-For": f"10.200.{n // 250}.{n % 250}"}
    with client.stream(
        case.method, case.path, headers=headers, content=case.body, params=case.params
    ) as reply:
        kind = reply.headers.get("content-type", "")
        body = b""
        for chunk in reply.iter_bytes():
            body += chunk
            if len(body) > 65536 or ("event-stream" in kind and b"message_end" in body):
                break
    return case, reply.status_code, body, kind


def test_bad_input_battery_gets_no_5xx_no_hang_and_the_envelope(target: Target) -> None:
    spec = httpx.get(f"{target.url}/openapi.json").json()
    creds = Credentials(
        app=[target.new_key("demo-shop") for _ in range(6)],
        dataset=target.new_key("demo-shop", "dataset"),
        agent=httpx.post(
            f"{target.url}/admin/agents",
            json={"name": "battery", "apps": ["*"]},
            headers=target.admin,
        ).json()["key"],
        admin=target.admin,
    )
    cases = generate(spec, creds)
    assert len(cases) >= 300
    # Every case is sent; the count is what the route table gives (about 2,750 today).
    failures: list[str] = []
    with (
        httpx.Client(base_url=target.url, timeout=CLIENT_TIMEOUT_S) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        futures = [pool.submit(send, client, case, n) for n, case in enumerate(cases)]
        for future in futures:
            try:
                case, status, body, kind = future.result()
            except httpx.TimeoutException as exc:
                failures.append(f"hang: {exc!r}")
                continue
            where = f"{case.method} {case.path[:80]} ({case.what})"
            if status >= 500:
                failures.append(f"{status}: {where}: {body[:200]!r}")
            elif status >= 400 and case.path.startswith(("/v1", "/admin", "/web")):
                if "application/json" not in kind:
                    failures.append(f"not JSON ({kind}): {where}")
                    continue
                shape = json.loads(body)
                if "error" in shape:  # OpenAI's
                    shape = shape["error"]
                    if not {"message", "type", "code"} <= set(shape):
                        failures.append(f"bad OpenAI envelope: {where}: {shape}")
                elif set(shape) - {"retry_after"} != {"status", "code", "message"}:
                    failures.append(f"bad envelope: {where}: {shape}")
    assert not failures, f"{len(failures)} of {len(cases)} failed:\n" + "\n".join(failures[:40])
    assert httpx.get(f"{target.url}/health").status_code == 200


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /static/../../../../etc/passwd HTTP/1.1",
        b"GET /static/%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1",
        b"GET /static/..%5c..%5c..%5cetc%5cpasswd HTTP/1.1",
        b"GET //etc/passwd HTTP/1.1",
        b"GET /v1/conversations/..%2f..%2fadmin/apps HTTP/1.1",
    ],
)
def test_path_traversal_reads_nothing_outside_the_static_folder(
    target: Target, request_line: bytes
) -> None:
    with socket.create_connection((target.host, target.port), timeout=10) as sock:
        sock.sendall(request_line + b"\r\nHost: kefu\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status = int(raw.split(b" ", 2)[1])
    assert status in (400, 401, 404), raw[:300]
    assert b"root:" not in raw
