"""The attack suite's target: a real ``kefu serve`` (the demo, which is public, and a private
CRM app that requires signed identities) with short timeouts and a small connection cap, so
that each finding of issue 17 can be tried as the outside probe tried it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, spawn_until_healthy, stop_server

ADMIN_KEY = "admin-attack-suite-key"
DEMO_KEY = "app-demo"  # short on purpose: a listing must not show it
CRM_SECRET = "crm-identity-secret-" + "7" * 40
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
MAX_CONNECTIONS = 40
IP_BURST = 20


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    data_dir: Path
    log: Path

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}

    @property
    def demo(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {DEMO_KEY}"}

    def new_key(self, app: str, kind: str = "app") -> str:
        reply = httpx.post(
            f"{self.url}/admin/apps/{app}/keys", json={"kind": kind}, headers=self.admin
        )
        assert reply.status_code == 201, reply.text
        key: str = reply.json()["key"]
        return key


CRM_APP = """
name: private-crm
language: en
knowledge: {faq: ["%s"]}
security:
  identity:
    required: true
    secret_env: KEFU_ATTACK_CRM_SECRET
"""


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("attack-suite")
    faq = Path(__file__).parent.parent / "fixtures" / "apps" / "tiny" / "faq.jsonl"
    crm = root / "private-crm.yaml"
    crm.write_text(CRM_APP % faq, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "KEFU_ADMIN_KEY": ADMIN_KEY,
        "KEFU_DEMO_API_KEY": DEMO_KEY,
        "KEFU_ATTACK_CRM_SECRET": CRM_SECRET,
        "KEFU_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "KEFU_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "KEFU_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "KEFU_IP_BURST": str(IP_BURST),
        "KEFU_LOG_FORMAT": "plain",
    }
    data_dir = root / "data"
    log = root / "server.log"
    command = [sys.executable, "-m", "kefu.cli.main", "serve", "--demo", "--app", str(crm)]
    process: subprocess.Popen[bytes] = spawn_until_healthy(
        [*command, "--port", str(port), "--data-dir", str(data_dir)],
        env,
        log,
        f"http://127.0.0.1:{port}/health",
    )
    try:
        yield Target(f"http://127.0.0.1:{port}", "127.0.0.1", port, data_dir, log)
    finally:
        stop_server(process)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
