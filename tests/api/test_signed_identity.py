"""Signed identities: an integrator's backend proves its customer with an HMAC of the user
id or a JWT (HS256 with the app's secret, RS256 with its public key); an app that requires
it refuses a bare ``user``; OpenAI calls without ``user`` are nobody's (issue 17, H1)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kefu.core.errors import ConfigError
from kefu.services.runtime import Runtime
from tests.conftest import FIXTURES, make_settings
from tests.servers import in_process_client

TINY = FIXTURES / "apps" / "tiny"
SECRET = "shop-identity-secret-" + "0123456789" * 5  # 70 characters
KEY = "app-signed-identity-test-key-000000000"
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def app_file(tmp_path: Path, required: bool) -> Path:
    path = tmp_path / "verified.yaml"
    path.write_text(
        f'name: verified\nlanguage: en\nknowledge: {{faq: ["{TINY / "faq.jsonl"}"]}}\n'
        "security:\n  identity:\n"
        f"    required: {str(required).lower()}\n"
        "    secret_env: KEFU_TEST_IDENTITY_SECRET\n"
        "    jwt_public_key_env: KEFU_TEST_IDENTITY_PUBLIC_KEY\n"
        "    burst: 5\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("KEFU_TEST_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("KEFU_TEST_IDENTITY_PUBLIC_KEY", PUBLIC_PEM)
    runtime = Runtime.build(make_settings(tmp_path / "data"), [app_file(tmp_path, True)])
    runtime.apps.ensure_key(runtime.apps.get("verified"), KEY)
    yield runtime
    runtime.close()


@pytest.fixture
async def http(verified: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(verified, KEY) as client:
        yield client


def signature(user: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), user.encode(), hashlib.sha256).hexdigest()


def token(sub: str, key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    payload = {"sub": sub, "exp": int(time.time()) + 300, **claims}
    return jwt.encode(payload, key, algorithm=algorithm)


def conversations(http: httpx.AsyncClient, **headers: str) -> Any:
    return http.get("/v1/conversations", params={"user": "customer-1001"}, headers=headers)


async def test_a_bare_user_is_refused_when_the_app_requires_proof(
    http: httpx.AsyncClient,
) -> None:
    bare = await conversations(http)
    assert bare.status_code == 401
    assert bare.json()["message"].startswith("This app requires a signed user identity")


async def test_an_hmac_of_the_user_proves_it(http: httpx.AsyncClient) -> None:
    ok = await conversations(http, **{"X-Kefu-User-Signature": signature("customer-1001")})
    assert ok.status_code == 200 and ok.json()["data"] == []
    for wrong in (signature("customer-1002"), signature("customer-1001", "guess"), "zz"):
        refused = await conversations(http, **{"X-Kefu-User-Signature": wrong})
        assert refused.status_code == 401
        assert refused.json()["message"] == "X-Kefu-User-Signature does not match this user."


async def test_a_jwt_names_the_user_hs256_and_rs256(http: httpx.AsyncClient) -> None:
    body = {"query": "When are you open?", "response_mode": "blocking"}
    for proof in (token("customer-1001"), token("customer-1001", PRIVATE, "RS256")):
        asked = await http.post(
            "/v1/chat-messages", json=body, headers={"X-Kefu-User-Token": proof}
        )
        assert asked.status_code == 200, asked.text
    listed = await http.get(
        "/v1/conversations", headers={"X-Kefu-User-Token": token("customer-1001")}
    )
    assert len(listed.json()["data"]) == 2
    # The token's user, not another one the request names.
    other = await http.get(
        "/v1/conversations",
        params={"user": "customer-1002"},
        headers={"X-Kefu-User-Token": token("customer-1001")},
    )
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        (token("c", exp=int(time.time()) - 10), "X-Kefu-User-Token has expired."),
        (token("c", key="not-the-secret-" + "x" * 60), "X-Kefu-User-Token is invalid"),
        (token("c", exp=int(time.time()) + 10 * 86400), "expires too far in the future"),
        (jwt.encode({"sub": "c"}, SECRET, algorithm="HS256"), "X-Kefu-User-Token is invalid"),
        (token("c", key=SECRET, algorithm="HS512"), "algorithm 'HS512' is not accepted"),
        ("not.a.jwt", "X-Kefu-User-Token is not a JWT."),
    ],
)
async def test_bad_tokens_are_refused(http: httpx.AsyncClient, proof: str, message: str) -> None:
    refused = await http.get("/v1/conversations", headers={"X-Kefu-User-Token": proof})
    assert refused.status_code == 401 and message in refused.json()["message"]


async def test_verified_users_have_their_own_rate_limit(http: httpx.AsyncClient) -> None:
    proof = {"X-Kefu-User-Token": token("busy-customer")}
    statuses = [(await http.get("/v1/parameters", headers=proof)).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5 and 429 in statuses
    calm = {"X-Kefu-User-Token": token("calm-customer")}
    assert (await http.get("/v1/parameters", headers=calm)).status_code == 200


async def test_openai_calls_without_user_are_each_their_own_anonymous_user(
    http: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        answered = await http.post(
            "/v1/chat/completions",
            json={"model": "verified", "messages": [{"role": "user", "content": "hours?"}]},
        )
        assert answered.status_code == 200, answered.text
    proof = {"X-Kefu-User-Signature": signature("openai-user")}
    pooled = await http.get("/v1/conversations", params={"user": "openai-user"}, headers=proof)
    assert pooled.json()["data"] == []  # nothing is pooled under the old shared user


def test_a_missing_or_short_secret_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEFU_TEST_IDENTITY_SECRET", raising=False)
    with pytest.raises(ConfigError, match="KEFU_TEST_IDENTITY_SECRET is not set"):
        Runtime.build(make_settings(tmp_path / "data"), [app_file(tmp_path, True)])
    monkeypatch.setenv("KEFU_TEST_IDENTITY_SECRET", "short")
    monkeypatch.setenv("KEFU_TEST_IDENTITY_PUBLIC_KEY", PUBLIC_PEM)
    with pytest.raises(ConfigError, match="at least 32 characters"):
        Runtime.build(make_settings(tmp_path / "data"), [app_file(tmp_path, True)])
