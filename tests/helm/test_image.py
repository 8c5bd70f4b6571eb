"""The container image: a Dockerfile that matches the chart, and its entrypoint run with the
chart's default environment (issue 9, acceptance 4).

No container engine runs here, so the Dockerfile is checked for what would break a build or
a deployment, and the entrypoint is run against the installed console script.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import signal
import socket
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import grpc
from grpc_health.v1 import health_pb2

from tests.support.chart import (
    chart_defaults,
    container_environment,
    dockerfile_instructions,
    dockerignore_patterns,
    final_stage,
    one,
    render,
    server_container,
)
from tests.support.servers import BIN, REPO, ServerProcess, Stubs

IMAGE_VENV_BIN = "/opt/venv/bin"


def copy_sources() -> list[str]:
    """Every path a COPY takes from the build context (not from another stage)."""
    sources = []
    for instruction, arguments in dockerfile_instructions():
        if instruction == "COPY" and "--from=" not in arguments:
            sources.extend(shlex.split(arguments)[:-1])
    return sources


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (Docker's matching, no `!`)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    for pattern in dockerignore_patterns():
        assert not pattern.startswith("!"), "negations are not checked here"
        pattern = pattern.strip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern):
                return True
            if pattern.startswith("**/") and any(
                    fnmatch.fnmatchcase("/".join(candidate.split("/")[start:]), pattern[3:])
                    for start in range(len(candidate.split("/")))):
                return True
    return False


def tracked_files(under: str) -> list[str]:
    listing = subprocess.run(["git", "ls-files", under], cwd=REPO, capture_output=True, text=True, check=True)
    return listing.stdout.split()


def image_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, arguments in final_stage():
        if instruction == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))
    return env


def image_json(instruction_name: str) -> list[str]:
    values = [json.loads(arguments) for instruction, arguments in final_stage() if instruction == instruction_name]
    return values[-1] if values else []


# -- the Dockerfile ------------------------------------------------------------------------------------------
def test_every_path_the_dockerfile_copies_exists_and_reaches_the_build_context() -> None:
    sources = copy_sources()
    assert {"pyproject.toml", "README.md", "server", "generated"} <= {s.rstrip("/") for s in sources}
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path"
        assert not ignored(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"
        files = tracked_files(source)
        assert files, f"COPY {source}: nothing tracked there"
        excluded = [f for f in files if ignored(f)]
        assert not excluded, f".dockerignore drops files the build needs: {excluded[:5]}"
    assert (REPO / "generated" / "duckdb_spawn" / "v1").is_dir()


def test_the_dockerignore_keeps_local_state_out() -> None:
    for path in (".venv/bin/python", ".git/HEAD", "data_product.db", "tests/conftest.py",
                 "server/duckdb_spawn_server/__pycache__/app.cpython-311.pyc"):
        assert ignored(path), path


def test_the_image_is_multi_stage_slim_and_installs_runtime_dependencies_only() -> None:
    stages = [arguments for instruction, arguments in dockerfile_instructions() if instruction == "FROM"]
    assert len(stages) >= 2
    base = next(arguments.split("=", 1)[1] for instruction, arguments in dockerfile_instructions()
                if instruction == "ARG" and arguments.startswith("PYTHON_IMAGE="))
    assert base.startswith("python:3.11") and "slim" in base
    installs = [arguments for instruction, arguments in dockerfile_instructions()
                if instruction == "RUN" and "pip install" in arguments]
    assert installs and all("[dev]" not in command and "-e " not in command for command in installs)
    assert any(instruction == "COPY" and "--from=" in arguments for instruction, arguments in final_stage())


def test_the_image_user_is_the_charts_non_root_uid() -> None:
    users = [arguments for instruction, arguments in final_stage() if instruction == "USER"]
    assert users, "the image would run as root"
    context = chart_defaults()["securityContext"]
    assert users[-1] == f"{context['runAsUser']}:{context['runAsGroup']}"
    assert context["runAsUser"] != 0
    pod = one(render(), "StatefulSet")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == context["runAsUser"]


def test_the_entrypoint_is_the_servers_console_script_and_ports_and_paths_match_the_chart() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert image_json("ENTRYPOINT") == ["duckdb-spawn-server"]
    assert "duckdb-spawn-server" in scripts
    manifests = render()
    env = container_environment(manifests, server_container(manifests))
    exposed = {int(port) for instruction, arguments in final_stage() if instruction == "EXPOSE"
               for port in arguments.split()}
    assert {int(env["GRPC_PORT"]), int(env["METRICS_PORT"])} <= exposed
    assert image_environment()["DUCKDB_PATH"] == env["DUCKDB_PATH"]
    assert image_environment()["PATH"].startswith(IMAGE_VENV_BIN + ":")


# -- acceptance 4: the entrypoint with the chart's default environment ----------------------------------------
def command_line(container: dict) -> list[str]:
    """What the kubelet runs: `command` replaces the ENTRYPOINT, `args` the CMD."""
    if "command" in container:
        return container["command"] + container.get("args", [])
    return image_json("ENTRYPOINT") + container.get("args", image_json("CMD"))


def local_environment(manifests: list[dict], volume_root: Path) -> tuple[dict[str, str], set[str]]:
    """The image's ENV, then the container's environment, with what only a pod has made local.

    Paths into the pod's volumes move under `volume_root`; ports become 0 and the host
    loopback, since a pod has a network namespace of its own and this machine does not.
    Returns the environment and the names that were changed.
    """
    container = server_container(manifests)
    env = {**image_environment(), **container_environment(manifests, container)}
    original = dict(env)
    for mount in container["volumeMounts"]:
        prefix = mount["mountPath"].rstrip("/") + "/"
        for name, value in original.items():
            if value.startswith(prefix):
                env[name] = str(volume_root / mount["name"] / value[len(prefix):])
    env["PATH"] = original["PATH"].replace(IMAGE_VENV_BIN, str(BIN), 1).replace("$PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(GRPC_HOST="127.0.0.1", GRPC_PORT="0", METRICS_PORT="0")
    return env, {name for name in env if env[name] != original.get(name)}


def test_the_entrypoint_with_the_charts_default_environment_serves_and_passes_health_checks(tmp_path: Path) -> None:
    manifests = render()
    container = server_container(manifests)
    argv = command_line(container)
    assert argv == ["duckdb-spawn-server"]
    env, changed = local_environment(manifests, tmp_path / "volumes")
    assert changed == {"PATH", "DUCKDB_PATH", "GRPC_HOST", "GRPC_PORT", "METRICS_PORT"}
    assert env["DUCKDB_THREADS"] == "2" and env["DUCKDB_MEMORY_LIMIT"] == "75% of 2048MiB"  # downward API
    workdir = next(arguments for instruction, arguments in final_stage() if instruction == "WORKDIR")
    data_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == workdir)
    cwd = tmp_path / "volumes" / data_mount["name"]
    cwd.mkdir(parents=True)

    server = ServerProcess(env, cwd=cwd, command=argv, inherit_environment=False)
    channel = None
    try:
        port = server.wait_serving(60)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stubs = Stubs(channel)
        server.wait_ready(stubs, 60)
        assert stubs.health_status("") == health_pb2.HealthCheckResponse.SERVING
        assert stubs.health_status("liveness") == health_pb2.HealthCheckResponse.SERVING
        opened = next(r for r in server.log_records() if r.get("message") == "database opened")
        assert opened["path"] == env["DUCKDB_PATH"] and Path(env["DUCKDB_PATH"]).exists()
        assert opened["duckdb_threads"] == 2 and opened["duckdb_memory_limit"] == "1.5 GiB"

        # The helm test pod's own command, pointed at this server.
        test_command = one(manifests, "Pod")["spec"]["containers"][0]["command"]
        result = subprocess.run([*test_command[:-1], f"127.0.0.1:{port}"], env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("SERVING") == 2

        server.signal(signal.SIGTERM)  # what the kubelet sends after the preStop sleep
        assert server.wait_exit(60) == 0
        assert any(r.get("message") == "stopped" for r in server.log_records())
    finally:
        if channel is not None:
            channel.close()
        server.close()


def test_the_health_check_command_fails_when_nothing_serves() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "duckdb_spawn_server.healthcheck", f"127.0.0.1:{port}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stdout


def test_the_health_check_command_reports_not_ready_and_waits_for_readiness(tmp_path: Path) -> None:
    from tests.support.servers import in_process_server

    command = [sys.executable, "-m", "duckdb_spawn_server.healthcheck"]
    with in_process_server(tmp_path / "db" / "x.duckdb") as (server, _stubs):
        server.app.health.set_ready(False)
        result = subprocess.run([*command, server.target], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "NOT_SERVING" in result.stdout
        liveness = subprocess.run([*command, "--service=liveness", server.target], capture_output=True,
                                  text=True, timeout=60)
        assert liveness.returncode == 0, liveness.stdout
        waiting = subprocess.Popen([*command, "--wait=60", server.target], stdout=subprocess.PIPE, text=True)
        try:
            server.app.health.set_ready(True)
            assert waiting.wait(60) == 0
            assert "SERVING" in waiting.stdout.read()
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait(10)
