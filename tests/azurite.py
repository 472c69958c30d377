"""A real Azurite table service on a free loopback port, for tests (``azurite`` session fixture)."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

WELL_KNOWN_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""The public development-storage key of ``devstoreaccount1`` (not a secret)."""
EXTRA_ACCOUNT = "funchostother"
"""A second account on the same Azurite, for isolation tests."""
EXTRA_KEY = "ZnVuY2hvc3Qtb3RoZXItYWNjb3VudC10ZXN0LWtleS0wMTIzNDU2Nzg5QUJDREVGRw=="
_CANDIDATES = (
    os.environ.get("AZURITE_TABLE", ""),
    "azurite-table",
    str(Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "azurite-table"),
    "/tmp/azurite/node_modules/.bin/azurite-table",
)


def find_azurite() -> str | None:
    """Path of the ``azurite-table`` executable ($AZURITE_TABLE, PATH, ./node_modules, /tmp/azurite)."""
    for candidate in _CANDIDATES:
        if not candidate:
            continue
        found = shutil.which(candidate)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Azurite:
    """A running Azurite table service."""

    port: int
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path = field(repr=False)

    def account_endpoint(self, account: str = "devstoreaccount1") -> str:
        return f"http://127.0.0.1:{self.port}/{account}"

    @property
    def endpoint(self) -> str:
        return self.account_endpoint()

    def connection_string(self, account: str = "devstoreaccount1") -> str:
        key = WELL_KNOWN_KEY if account == "devstoreaccount1" else EXTRA_KEY
        return (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"TableEndpoint={self.account_endpoint(account)};"
        )

    def stop(self) -> None:
        """Stop the process and remove its workspace."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def start_azurite(executable: str | None = None, *, timeout: float = 30.0) -> Azurite:
    """Start Azurite tables (in-memory, loose) on a free 127.0.0.1 port; raises RuntimeError on failure."""
    executable = executable or find_azurite()
    if executable is None:
        raise RuntimeError("azurite-table not found: npm install azurite, or set AZURITE_TABLE to its path")
    env = dict(os.environ)
    env["AZURITE_ACCOUNTS"] = f"devstoreaccount1:{WELL_KNOWN_KEY};{EXTRA_ACCOUNT}:{EXTRA_KEY}"
    last = ""
    for _ in range(3):  # the free port can be taken between probe and bind
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="funchost-azurite-"))
        log = workdir / "azurite.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    executable,
                    "--tableHost",
                    "127.0.0.1",
                    "--tablePort",
                    str(port),
                    "--inMemoryPersistence",
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--silent",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=workdir,
            )
        azurite = Azurite(port, process, workdir, log)
        if _wait_listening(port, process, timeout):
            return azurite
        last = log.read_text(errors="replace")[-2000:]
        azurite.stop()
    raise RuntimeError(f"Azurite did not start listening on 127.0.0.1; its output:\n{last}")


def install_azurite() -> str | None:
    """Install the repo's Azurite (package.json) with npm into ./node_modules; the path, or None without npm."""
    npm = shutil.which("npm")
    if npm is None:
        return None
    repo = Path(__file__).resolve().parents[1]
    with (repo / ".azurite-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once, the others wait for it
        if find_azurite() is None:
            subprocess.run(
                [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=repo,
                check=True,
                timeout=600,
            )
    return find_azurite()


def azurite_or_skip() -> Azurite:
    """Start Azurite, installing it from npm when missing; without npm, skip (locally) or fail (when $CI is set)."""
    executable = find_azurite() or install_azurite()
    if executable is None:
        message = (
            "azurite-table is not installed and npm is not available to install it (npm install azurite)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the Azure Tables tests", pytrace=False)
        pytest.skip(message)
    return start_azurite(executable)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite table service for the whole test session."""
    server = azurite_or_skip()
    try:
        yield server
    finally:
        server.stop()


# -- blob and queue services (funchost_storage) -------------------------------------------------------------------


@dataclass
class AzuriteStorage:
    """A running Azurite blob and queue service (two processes, one free loopback port each)."""

    blob: Azurite
    queue: Azurite

    def connection_string(self) -> str:
        """A connection string for ``devstoreaccount1`` pointing at these two ports."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={WELL_KNOWN_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob.port}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{self.queue.port}/devstoreaccount1;"
        )

    def stop(self) -> None:
        self.blob.stop()
        self.queue.stop()


def _start_service(executable: str, service: str, timeout: float) -> Azurite:
    last = ""
    for _ in range(3):  # the free port can be taken between probe and bind
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix=f"funchost-azurite-{service}-"))
        log = workdir / "azurite.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    executable,
                    f"--{service}Host",
                    "127.0.0.1",
                    f"--{service}Port",
                    str(port),
                    "--inMemoryPersistence",
                    "--disableTelemetry",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--silent",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        server = Azurite(port, process, workdir, log)
        if _wait_listening(port, process, timeout):
            return server
        last = log.read_text(errors="replace")[-2000:]
        server.stop()
    raise RuntimeError(f"Azurite {service} did not start listening on 127.0.0.1; its output:\n{last}")


def find_azurite_service(service: str) -> str | None:
    """Path of ``azurite-blob`` or ``azurite-queue`` (PATH, ./node_modules, /tmp/azurite)."""
    name = f"azurite-{service}"
    for candidate in (
        os.environ.get(f"AZURITE_{service.upper()}", ""),
        name,
        str(Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / name),
        f"/tmp/azurite/node_modules/.bin/{name}",
    ):
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    return None


def start_azurite_storage(*, timeout: float = 30.0) -> AzuriteStorage:
    """Start Azurite blob and queue services (in-memory) on free loopback ports; RuntimeError on failure."""
    blob_exe, queue_exe = find_azurite_service("blob"), find_azurite_service("queue")
    if blob_exe is None or queue_exe is None:
        raise RuntimeError("azurite-blob/azurite-queue not found: npm install azurite")
    blob = _start_service(blob_exe, "blob", timeout)
    try:
        queue = _start_service(queue_exe, "queue", timeout)
    except BaseException:
        blob.stop()
        raise
    return AzuriteStorage(blob, queue)


def azurite_storage_or_skip() -> AzuriteStorage:
    """Start Azurite blob+queue, installing it from npm when missing; skip locally (fail on CI) without npm."""
    if find_azurite_service("blob") is None and install_azurite() is None:
        message = "azurite-blob is not installed and npm is not available to install it (npm install azurite)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the Azure Storage tests", pytrace=False)
        pytest.skip(message)
    return start_azurite_storage()


@pytest.fixture(scope="session")
def azurite_storage() -> Iterator[AzuriteStorage]:
    """Real Azurite blob and queue services for the whole test session."""
    server = azurite_storage_or_skip()
    try:
        yield server
    finally:
        server.stop()
