"""A real, throw-away Label Studio server for integration tests.

The server comes from its own virtualenv (it pins many packages, so it stays out of the project's
dependencies): ``LABEL_STUDIO_BIN``, else ``.ls-venv/bin/label-studio`` in the repository root, else
``/tmp/lsvenv/bin/label-studio``. Each start gets a fresh data dir, a free port on 127.0.0.1 only,
and a known user and legacy API token, so tests never touch anyone's real instance or data.

Reusable outside pytest (``with running_server(tmp) as server: ...``) and as the session fixture
``label_studio_server``; a later ML-backend test starts the same kind of server. A missing binary
fails the fixture (a silently skipped integration test proves nothing) unless ``LABEL_STUDIO_SKIP=1``.
To share one server between several test modules, import the fixture once in ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FALLBACK_BINS = (REPO_ROOT / ".ls-venv" / "bin" / "label-studio", Path("/tmp/lsvenv/bin/label-studio"))
HOST = "127.0.0.1"
START_TIMEOUT_S = float(os.environ.get("LABEL_STUDIO_START_TIMEOUT", "240"))
INSTALL_HINT = (
    "create it with: python3 -m venv .ls-venv && .ls-venv/bin/pip install label-studio==1.23.2 "
    "(or point LABEL_STUDIO_BIN at a label-studio executable; LABEL_STUDIO_SKIP=1 skips these tests)"
)


class ServerError(RuntimeError):
    """The server could not be started; the message carries the tail of its log."""


@dataclass
class LabelStudioServer:
    url: str
    port: int
    token: str
    username: str
    password: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)


def find_binary() -> Path | None:
    """LABEL_STUDIO_BIN when set (and then only it: a wrong explicit path must not fall back
    silently to some other install), else the first fallback that exists."""
    explicit = os.environ.get("LABEL_STUDIO_BIN")
    if explicit:
        path = Path(explicit)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    return next((p for p in FALLBACK_BINS if p.is_file() and os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def server_env(base: Path, username: str, password: str, token: str) -> dict[str, str]:
    """The environment for the server: fresh data dir, SQLite, the known user and token, no
    telemetry, and ML backends on 127.0.0.1 allowed (the later inference test needs that)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "DJANGO_", "POSTGRE_"))}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(base / "data"),
        DJANGO_DB="sqlite",
        LABEL_STUDIO_USERNAME=username,
        LABEL_STUDIO_PASSWORD=password,
        LABEL_STUDIO_USER_TOKEN=token,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        LABEL_STUDIO_ML_BLOCK_LOCAL_IP="false",
        LABEL_STUDIO_SSRF_PROTECTION_ENABLED="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
        COLLECT_ANALYTICS="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_server(base: Path, binary: Path | None = None, timeout_s: float = START_TIMEOUT_S) -> LabelStudioServer:
    """Starts Label Studio under ``base`` and returns once ``/health`` answers (30-60 s on an empty
    data dir: migrations run first). The working directory is ``base`` too, because the server
    writes export/media folders into its cwd."""
    binary = binary or find_binary()
    if binary is None:
        raise ServerError(
            f"Label Studio binary not found (LABEL_STUDIO_BIN={os.environ.get('LABEL_STUDIO_BIN')!r}, "
            f"fallbacks {[str(p) for p in FALLBACK_BINS]}); {INSTALL_HINT}"
        )
    base.mkdir(parents=True, exist_ok=True)
    username, password, token = "ls-test@example.com", secrets.token_urlsafe(16), secrets.token_hex(20)
    for attempt in range(3):  # the free port can be taken between probing and binding
        port = free_port()
        log_path = base / f"label-studio-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(binary), "start", "--no-browser", "--internal-host", HOST, "--port", str(port)],
                cwd=base,
                env=server_env(base, username, password, token),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop_server reaches any children
            )
        server = LabelStudioServer(
            f"http://{HOST}:{port}", port, token, username, password, base / "data", log_path, process
        )
        try:
            _wait_healthy(server, timeout_s)
            return server
        except ServerError:
            stop_server(server)
            if attempt < 2 and "already in use" in server.log_tail(200).lower():
                continue
            raise
    raise AssertionError("unreachable")


def _wait_healthy(server: LabelStudioServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise ServerError(
                f"Label Studio exited with code {code} before answering /health; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise ServerError(
        f"Label Studio did not answer {server.url}/health within {timeout_s:.0f} s; "
        f"log {server.log_path}:\n{server.log_tail()}"
    )


def stop_server(server: LabelStudioServer, grace_s: float = 15.0) -> None:
    """SIGTERM to the server's own process group, SIGKILL if it lingers."""
    process = server.process
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def running_server(base: Path | None = None) -> Iterator[LabelStudioServer]:
    with contextlib.ExitStack() as stack:
        if base is None:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="labelstudio-")))
        server = start_server(base)
        try:
            yield server
        finally:
            stop_server(server)


@contextlib.contextmanager
def log_on_failure(server: LabelStudioServer) -> Iterator[None]:
    """Prints the server log's tail when the wrapped block raises; pytest shows captured output
    of a failing test, so a server-side 400/500 is explained right under the assertion."""
    try:
        yield
    except BaseException:
        print(f"--- last lines of the Label Studio log {server.log_path} ---\n{server.log_tail(80)}")
        raise


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port``, read from /proc (Linux), so a test
    can prove the server is reachable on loopback only. Empty when /proc is unavailable."""
    found: set[str] = set()
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state = fields[1], fields[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port and len(address) == width:
                found.add(_decode_address(address))
    return found


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


@pytest.fixture(scope="session")
def label_studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if find_binary() is None:
        message = (
            f"Label Studio binary not found (LABEL_STUDIO_BIN={os.environ.get('LABEL_STUDIO_BIN')!r}, "
            f"fallbacks {[str(p) for p in FALLBACK_BINS]}); {INSTALL_HINT}"
        )
        if os.environ.get("LABEL_STUDIO_SKIP") == "1":
            pytest.skip(f"LABEL_STUDIO_SKIP=1: {message}")
        pytest.fail(message, pytrace=False)
    base = tmp_path_factory.mktemp("labelstudio")
    try:
        server = start_server(base)
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"Label Studio at {server.url}, log {server.log_path}")
    try:
        yield server
    finally:
        stop_server(server)
