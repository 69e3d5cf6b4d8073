"""The compose file: valid against the compose-spec JSON schema, and consistent with kefu.

The schema is the one check-jsonschema vendors from the compose-spec project (what
``docker compose config`` enforces); Docker itself cannot run here, so nothing is started.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy._files import (
    COMPOSE,
    PENDING_SETTINGS,
    dockerfile_port,
    dockerfile_uid,
    known_variables,
    setting_variables,
)

SPEC: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
KEFU_SERVICES = ("kefu", "migrate")


@pytest.fixture(scope="module")
def compose_schema() -> jsonschema.protocols.Validator:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def test_the_compose_file_matches_the_compose_spec(
    compose_schema: jsonschema.protocols.Validator,
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in compose_schema.iter_errors(SPEC)]
    assert errors == []


def test_the_schema_would_catch_a_misspelt_key(
    compose_schema: jsonschema.protocols.Validator,
) -> None:
    broken = copy.deepcopy(SPEC)
    broken["services"]["kefu"]["stop_grace_periode"] = "45s"
    broken["services"]["kefu"]["depends_on"]["migrate"]["condition"] = "when_done"
    errors = " | ".join(error.message for error in compose_schema.iter_errors(broken))
    assert "'stop_grace_periode'" in errors and "when_done" in errors


def test_the_stack_and_its_pinned_images() -> None:
    services = SPEC["services"]
    assert {"kefu", "migrate", "postgres", "redis", "vllm"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15.")
    assert services["redis"]["image"].startswith("redis:7.")
    for name, service in services.items():
        image = service["image"]
        if name in KEFU_SERVICES:
            assert service["build"] == {"context": "../..", "dockerfile": "Dockerfile"}
            continue
        tag = image.rsplit(":", 1)[1]
        assert tag != "latest", f"{name}: pin {image}"
        assert re.search(r"\d+\.\d+|RELEASE\.\d{4}-", tag), f"{name}: pin {image}"


def test_milvus_is_optional_behind_a_profile() -> None:
    services = SPEC["services"]
    milvus = {name for name, service in services.items() if "profiles" in service}
    assert milvus == {"milvus", "milvus-etcd", "milvus-minio"}
    assert all(services[name]["profiles"] == ["milvus"] for name in milvus)
    assert services["kefu"]["depends_on"]["milvus"]["required"] is False
    assert SPEC["x-kefu-environment"]["KEFU_MILVUS_URI"] == "${KEFU_MILVUS_URI:-}"  # off


def test_migrations_run_before_kefu_serves() -> None:
    services = SPEC["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    needs = services["kefu"]["depends_on"]
    assert needs["migrate"]["condition"] == "service_completed_successfully"
    assert needs["postgres"]["condition"] == "service_healthy"
    assert needs["redis"]["condition"] == "service_healthy"
    assert services["kefu"]["command"][0] == "serve"


def test_kefu_is_configured_by_its_own_variables_and_secrets() -> None:
    environment = SPEC["x-kefu-environment"]
    for name in KEFU_SERVICES:
        assert SPEC["services"][name]["environment"] == environment
    assert set(environment) <= known_variables(), set(environment) - known_variables()
    for required in ("KEFU_REDIS_URL", "KEFU_LLM_BASE_URL", "KEFU_LLM_MODEL"):
        assert environment[required]
    assert environment["KEFU_LLM_BASE_URL"] == "http://vllm:8000/v1"
    assert environment["KEFU_SECRETS_DIR"] == "/run/secrets"
    # each secret file kefu reads is named after a setting; no secret is in the environment
    for name in KEFU_SERVICES:
        for secret in SPEC["services"][name]["secrets"]:
            assert secret in SPEC["secrets"]
            assert secret.upper() in setting_variables(), secret
    assert {"kefu_database_url", "kefu_secret_key"} <= set(SPEC["services"]["kefu"]["secrets"])
    assert not any(
        word in key for key in environment for word in ("KEY", "PASSWORD", "DATABASE_URL")
    )


def test_vllm_serves_the_model_kefu_asks_for_with_tool_calls() -> None:
    vllm = SPEC["services"]["vllm"]
    assert vllm["environment"]["KEFU_LLM_MODEL"] == SPEC["x-kefu-environment"]["KEFU_LLM_MODEL"]
    command = vllm["command"][0]
    assert "vllm serve" in command and "--port 8000" in command
    assert "--enable-auto-tool-choice --tool-call-parser hermes" in command
    assert "/run/secrets/kefu_llm_api_key" in command and "kefu_llm_api_key" in vllm["secrets"]
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_kefu_runs_hardened_and_stops_after_its_drain() -> None:
    kefu = SPEC["services"]["kefu"]
    assert kefu["user"] == f"{dockerfile_uid()}:{dockerfile_uid()}"
    assert kefu["read_only"] is True and kefu["tmpfs"] == ["/tmp"]
    assert kefu["cap_drop"] == ["ALL"]
    assert kefu["ports"] == [f"${{KEFU_PORT:-8000}}:{dockerfile_port()}"]
    drain = int(SPEC["x-kefu-environment"]["KEFU_DRAIN_TIMEOUT_S"])
    assert int(kefu["stop_grace_period"].removesuffix("s")) > drain
    assert f"127.0.0.1:{dockerfile_port()}/health" in " ".join(kefu["healthcheck"]["test"])


def test_make_secrets_writes_matching_passwords_once(tmp_path: Path) -> None:
    if shutil.which("od") is None:
        pytest.skip("od (coreutils) is missing")
    folder = tmp_path / "compose"
    shutil.copytree(COMPOSE.parent, folder)
    script = folder / "make-secrets.sh"
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=30)
    secrets = folder / "secrets"
    assert sorted(p.name for p in secrets.iterdir()) == sorted(SPEC["secrets"])
    password = (secrets / "postgres_password").read_text()
    assert len(password) == 48
    url = (secrets / "kefu_database_url").read_text()
    assert url == f"postgresql://kefu:{password}@postgres:5432/kefu"
    assert (secrets / "kefu_admin_key").read_text() != (secrets / "kefu_llm_api_key").read_text()
    assert secrets.stat().st_mode & 0o777 == 0o700
    subprocess.run(["sh", str(script)], check=True, capture_output=True, timeout=30)
    assert (secrets / "postgres_password").read_text() == password  # kept, not replaced
    assert "secrets/" in (COMPOSE.parent / ".gitignore").read_text().split()


def test_pending_settings_are_still_pending() -> None:
    """Delete an entry of PENDING_SETTINGS once its branch is merged (this then fails)."""
    arrived = set(PENDING_SETTINGS) & setting_variables()
    assert not arrived, f"{arrived} exist now: remove them from PENDING_SETTINGS"
