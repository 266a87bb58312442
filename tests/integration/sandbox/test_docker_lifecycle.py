"""The Docker backend's containers: cleaned up, swept, pooled, recycled, hardened, shared."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import pytest
from docker.errors import NotFound

from sandbox import Limits, Problem, Sandbox, SandboxError, Verdict
from sandbox.backends.docker import OWNER_LABEL, POOL_LABEL, DockerBackend, sweep_orphans
from sandbox.image import DEFAULT_IMAGE
from sandbox.judge import build_request
from sandbox.runner import select_cases
from tests.integration.sandbox.conftest import docker_ready, our_containers

pytestmark = pytest.mark.docker

REMOVAL_WAIT_S = 15.0
SUM = Problem.model_validate(
    {
        "title": "sum",
        "statement": "print a+b",
        "time_limit_s": 1.0,
        "memory_limit_mb": 64,
        "tests": {"kind": "stdio", "public": [{"input": "2 3\n", "output": "5"}]},
    }
)
# Answers correctly, and names the container it ran in (its hostname) on stderr.
SUM_PROGRAM = (
    "import socket, sys\n"
    "print(socket.gethostname(), file=sys.stderr)\n"
    "a, b = map(int, input().split())\n"
    "print(a + b)\n"
)

BackendFactory = Callable[..., DockerBackend]


@pytest.fixture(autouse=True)
def require_docker() -> None:
    reason = docker_ready()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def client() -> Iterator[Any]:
    docker_client = docker.from_env()
    yield docker_client
    docker_client.close()


@pytest.fixture
def make_backend() -> Iterator[BackendFactory]:
    """Docker backends that are closed, and whose containers are gone, after the test."""
    backends: list[DockerBackend] = []

    def factory(**kwargs: Any) -> DockerBackend:
        backend = DockerBackend(**kwargs)
        backends.append(backend)
        return backend

    yield factory
    for backend in backends:
        backend.close()
    if not wait_until_gone():
        for container in our_containers():
            container.remove(force=True)  # type: ignore[attr-defined]


def wait_until_gone() -> bool:
    """True once no container of this process is left (removal runs on background threads)."""
    deadline = time.monotonic() + REMOVAL_WAIT_S
    while our_containers():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def hostname_of(sandbox: Sandbox) -> str:
    """The container an attempt of SUM_PROGRAM ran in, as its hostname."""
    result = sandbox.run_suite(SUM_PROGRAM, SUM)
    assert result.verdict is Verdict.ACCEPTED, result.model_dump()
    return result.cases[0].stderr_excerpt.strip()


def test_closing_leaves_no_container_behind(make_backend: BackendFactory) -> None:
    sandbox = Sandbox(make_backend(concurrency=1))
    spin = "while True:\n    pass\n"
    flood = "while True:\n    print('x' * 4096)\n"
    verdicts = [sandbox.run_suite(p, SUM).verdict for p in (SUM_PROGRAM, spin, flood)]
    assert verdicts == [Verdict.ACCEPTED, Verdict.TIME_LIMIT, Verdict.OUTPUT_LIMIT]
    assert our_containers(), "the attempts ran in no labelled container"
    sandbox.close()
    assert wait_until_gone(), [c.name for c in our_containers()]  # type: ignore[attr-defined]


@pytest.fixture
def owner_pids() -> Iterator[tuple[int, int]]:
    """A dead pid (a process that ran and was reaped) and a live one, both started here."""
    finished = subprocess.Popen(["true"])
    finished.wait()
    sleeper = subprocess.Popen(["sleep", "600"])
    yield finished.pid, sleeper.pid
    sleeper.kill()
    sleeper.wait()


def test_sweep_removes_orphans_of_dead_owners_only(
    client: Any, owner_pids: tuple[int, int]
) -> None:
    dead_pid, live_pid = owner_pids
    started = []
    try:
        for pid in (dead_pid, live_pid):
            started.append(
                client.containers.run(
                    DEFAULT_IMAGE,
                    ["sleep", "infinity"],
                    detach=True,
                    init=True,
                    network_mode="none",
                    labels={POOL_LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{pid}"},
                )
            )
        orphan, owned = started
        assert sweep_orphans(client) >= 1
        with pytest.raises(NotFound):
            client.containers.get(orphan.id)
        assert client.containers.get(owned.id).status == "running"
    finally:
        for container in started:
            with contextlib.suppress(NotFound):  # swept by the test itself
                container.remove(force=True)


def test_the_pool_reuses_a_warm_container_until_max_uses(make_backend: BackendFactory) -> None:
    backend = make_backend(concurrency=1, max_uses=2)
    sandbox = Sandbox(backend)
    first = hostname_of(sandbox)
    assert [s.container.id[:12] for s in backend._idle] == [first]
    assert hostname_of(sandbox) == first  # warm: the same container again
    assert backend._idle == []  # used max_uses times: recycled
    third = hostname_of(sandbox)
    assert third != first
    assert [s.container.id[:12] for s in backend._idle] == [third]


def test_a_timed_out_attempt_recycles_its_container(make_backend: BackendFactory) -> None:
    backend = make_backend(concurrency=1, host_slack_s=1.0)
    sandbox = Sandbox(backend)
    before = hostname_of(sandbox)
    # The request lets its case sleep for long, but the backend is told of limits whose
    # deadline is far shorter: the attempt times out on the backend's side.
    slow = SUM.model_copy(update={"time_limit_s": 30.0})
    request = build_request(
        "import time\ntime.sleep(600)\n",
        slow.tests,
        select_cases(slow, "public"),
        Limits.for_problem(slow),
        backend.options(),
    )
    short = Limits(time_limit_s=0.1, wall_factor=1.0, memory_limit_mb=64, suite_wall_limit_s=0.1)
    with pytest.raises(SandboxError, match="failed twice"):  # re-run once, then given up
        backend.execute(request, short, 1)
    assert backend._idle == []
    assert hostname_of(sandbox) != before


HARDENING_PROBE = """
import errno, json, os
try:
    open('/probe', 'w').close()
    root = 'writable'
except OSError as exc:
    root = errno.errorcode.get(exc.errno, str(exc.errno))
status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
tmp = [line.split()[3] for line in open('/proc/self/mounts') if line.split()[1] == '/tmp']
print(json.dumps({
    'uid': os.getuid(),
    'gid': os.getgid(),
    'root': root,
    'cap_eff': status['CapEff'].strip(),
    'cap_prm': status['CapPrm'].strip(),
    'no_new_privs': status['NoNewPrivs'].strip(),
    'net': sorted(os.listdir('/sys/class/net')),
    'tmp_options': tmp[0].split(',') if tmp else [],
}))
"""


def test_the_program_sees_a_hardened_container(make_backend: BackendFactory, client: Any) -> None:
    backend = make_backend(concurrency=1)
    sandbox = Sandbox(backend)
    result = sandbox.run_suite(HARDENING_PROBE, SUM)
    host_config = client.api.inspect_container(backend._idle[0].container.id)["HostConfig"]
    assert host_config["LogConfig"]["Type"] == "none"  # nothing of the stream on the host disk
    assert host_config["Sysctls"]["kernel.shmall"] == "0"
    assert host_config["Sysctls"]["fs.mqueue.queues_max"] == "0"
    case = result.cases[0]
    assert case.verdict is Verdict.WRONG_ANSWER, result.model_dump()  # it ran to its end
    seen = json.loads(case.actual_excerpt)
    assert (seen["uid"], seen["gid"]) == (65534, 65534)
    assert seen["root"] in ("EROFS", "EACCES")
    assert int(seen["cap_eff"], 16) == 0
    assert int(seen["cap_prm"], 16) == 0
    assert seen["no_new_privs"] == "1"
    assert seen["net"] == ["lo"]
    assert "noexec" in seen["tmp_options"]


def test_concurrent_attempts_share_a_small_pool(make_backend: BackendFactory) -> None:
    backend = make_backend(concurrency=2)
    sandbox = Sandbox(backend)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: sandbox.run_suite(SUM_PROGRAM, SUM), range(8)))
    assert [r.verdict for r in results] == [Verdict.ACCEPTED] * 8
    hosts = {r.cases[0].stderr_excerpt.strip() for r in results}
    assert 1 <= len(hosts) <= 2  # never more containers than slots
    assert len(backend._idle) == len(hosts)


def test_a_vanished_container_is_replaced_and_the_attempt_run_again(
    make_backend: BackendFactory, client: Any
) -> None:
    backend = make_backend(concurrency=1)
    sandbox = Sandbox(backend)
    first = hostname_of(sandbox)
    client.containers.get(backend._idle[0].container.id).remove(force=True)
    assert hostname_of(sandbox) != first  # judged, in a fresh container, not a sandbox error


@pytest.fixture
def container_churn(client: Any, owner_pids: tuple[int, int]) -> Iterator[None]:
    """Another client's containers appearing and vanishing while ours start and sweep."""
    dead_pid = owner_pids[0]
    stop = threading.Event()

    def churn() -> None:
        labels = {POOL_LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{dead_pid}"}
        while not stop.is_set():
            with contextlib.suppress(Exception):  # swept by the clients under test meanwhile
                client.containers.create(DEFAULT_IMAGE, ["true"], labels=labels).remove(force=True)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def test_several_clients_on_one_daemon_never_crash(tmp_path: Any, container_churn: None) -> None:
    problem = tmp_path / "sum.json"
    problem.write_text(SUM.model_dump_json())
    program = tmp_path / "sum.py"
    program.write_text(SUM_PROGRAM)
    programs = ["--program", str(program), "--program", str(program)]
    command = [sys.executable, "-m", "sandbox", "run", "--backend", "docker"]
    command += ["--problem", str(problem), *programs]
    clients = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    for client_process in clients:
        out, err = client_process.communicate(timeout=300)
        assert client_process.returncode == 0, err.decode()[-2000:]
        verdicts = [r["verdict"] for r in json.loads(out)]
        assert verdicts == ["accepted", "accepted"]
