"""convo's pytest plugin (registered through the ``pytest11`` entry point): cassettes for tests.

Layer: testing. The ``convo_executor`` fixture is a :class:`~convo.executor.ReplayExecutor` on
``fixtures/cassettes/<test id>.jsonl`` (under the rootdir; ``--convo-cassettes DIR`` or the
``convo_cassettes`` ini option moves it). Without options it replays, and any socket
connection to an address outside the loopback range raises :class:`NetworkBlockedError`, so a
test can never reach the real API by accident. With ``--convo-record`` it sends each request
through a real :class:`~convo.executor.HttpExecutor` (configured from ``ANTHROPIC_API_KEY`` and
``ANTHROPIC_BASE_URL``; point the latter at ``convo serve`` to record against the emulator) and
writes the cassette, API key scrubbed. ``convo_async_executor`` is the async twin. The
``convo_api_version`` ini option is the version recorded with (default ``2026-10-21``); replay
checks each request under the version its exchange was recorded with, or the option's when set.

The test id is the node id made safe as a file name: ``tests/test_a.py::TestX::test_y[1]`` is
``tests.test_a__TestX__test_y[1].jsonl``. ``@pytest.mark.convo_cassette("name")`` names the
cassette instead (several tests can share one).

This module is imported by every pytest run in an environment where convo is installed, so it
imports nothing heavy until a fixture is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convo.errors import ConvoError

__all__ = ["NetworkBlockedError", "block_network", "cassette_name", "is_loopback"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\[\]=+,-]+")
_MAX_NAME = 150


class NetworkBlockedError(ConvoError, RuntimeError):
    """A test tried to reach a non-loopback address while cassettes were being replayed.

    Not an ``OSError`` on purpose: HTTP clients turn those into retried connection errors;
    this must stop the test at once and say why.
    """


def cassette_name(nodeid: str) -> str:
    """The cassette file name (without ``.jsonl``) for a pytest node id.

    >>> cassette_name("tests/test_a.py::TestX::test_y[1]")
    'tests.test_a__TestX__test_y[1]'
    >>> cassette_name("test_b.py::test_z[a b/c]")
    'test_b__test_z[a_b_c]'
    """
    path, sep, rest = nodeid.partition("::")
    if path.endswith(".py"):
        path = path[:-3]
    path = path.replace("\\", "/").strip("/").replace("/", ".")
    name = path + ("__" + rest.replace("::", "__") if sep else "")
    name = _UNSAFE.sub("_", name)
    if len(name) > _MAX_NAME:  # keep names within file-system limits, still unique
        digest = hashlib.sha256(nodeid.encode("utf-8")).hexdigest()[:12]
        name = name[: _MAX_NAME - 13] + "-" + digest
    return name


# --------------------------------------------------------------------------- network guard


def is_loopback(host: Any) -> bool:
    """Whether *host* names this machine: 127.0.0.0/8, ``::1`` or ``localhost``.

    >>> [is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost",
    ...                          "10.0.0.1", "api.anthropic.com")]
    [True, True, True, True, True, False, False]
    """
    if not isinstance(host, str):
        return False
    h = host.strip("[]").split("%", 1)[0]
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _blocked(where: str) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"network access to {where} is blocked while convo replays cassettes; record the test "
        "with `pytest --convo-record` (ANTHROPIC_BASE_URL pointing at the API or `convo serve`)"
    )


@contextlib.contextmanager
def block_network() -> Iterator[None]:
    """Make every connection to a non-loopback address raise :class:`NetworkBlockedError`.

    Unix sockets and 127.0.0.0/8, ``::1`` and ``localhost`` stay reachable (a local emulator
    is fine). Name lookups of other hosts are refused too, so nothing leaves the machine: the
    check runs before any packet is sent.
    """
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: Any, address: Any) -> None:
        if (
            sock.family in (socket.AF_INET, socket.AF_INET6)
            and isinstance(address, tuple)
            and not is_loopback(address[0])
        ):
            raise _blocked(f"{address[0]}:{address[1]}")

    def connect(sock: Any, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: Any, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not is_loopback(host if not isinstance(host, bytes) else host.decode()):
            raise _blocked(f"{host}:{port}")
        return real_getaddrinfo(host, port, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo


# --------------------------------------------------------------------------- pytest hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("convo", "convo cassettes")
    group.addoption(
        "--convo-record",
        action="store_true",
        default=False,
        help="record convo cassettes through a real HttpExecutor (ANTHROPIC_API_KEY, "
        "ANTHROPIC_BASE_URL) instead of replaying them",
    )
    group.addoption(
        "--convo-cassettes",
        default=None,
        metavar="DIR",
        help="directory of convo cassettes (default: fixtures/cassettes under the rootdir)",
    )
    parser.addini("convo_cassettes", "directory of convo cassettes, relative to the rootdir", default="")
    parser.addini(
        "convo_api_version",
        "anthropic-version for recording (default 2026-10-21), and for the rules checked on "
        "replay (default: the version each exchange was recorded with)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "convo_cassette(name): the cassette file (without .jsonl) this test uses"
    )


def _cassette_path(request: pytest.FixtureRequest) -> Path:
    config = request.config
    base = config.getoption("convo_cassettes") or config.getini("convo_cassettes")
    root = Path(config.rootpath)
    directory = root / base if base else root / "fixtures" / "cassettes"
    marker = request.node.get_closest_marker("convo_cassette")
    name = str(marker.args[0]) if marker and marker.args else cassette_name(request.node.nodeid)
    return directory / f"{name}.jsonl"


@pytest.fixture
def convo_executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A :class:`~convo.executor.ReplayExecutor` on this test's cassette (see the module doc)."""
    from convo.executor import HttpExecutor, ReplayExecutor
    from convo.profiles import DEFAULT_API_VERSION

    path = _cassette_path(request)
    version = str(request.config.getini("convo_api_version")) or None
    if request.config.getoption("convo_record"):
        inner = HttpExecutor(api_version=version or DEFAULT_API_VERSION)
        with ReplayExecutor(path, mode="record", inner=inner, api_version=version) as ex:
            yield ex
        return
    with block_network(), ReplayExecutor(path, mode="replay", api_version=version) as ex:
        yield ex


@pytest.fixture
def convo_async_executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An :class:`~convo.executor.AsyncReplayExecutor` on this test's cassette.

    Its ``aclose`` only writes the cassette and closes the HTTP client; the fixture writes the
    cassette itself at teardown, so a test need not close it.
    """
    from convo.executor import AsyncHttpExecutor, AsyncReplayExecutor
    from convo.profiles import DEFAULT_API_VERSION

    path = _cassette_path(request)
    version = str(request.config.getini("convo_api_version")) or None
    if request.config.getoption("convo_record"):
        inner = AsyncHttpExecutor(api_version=version or DEFAULT_API_VERSION)
        ex = AsyncReplayExecutor(path, mode="record", inner=inner, api_version=version)
        try:
            yield ex
        finally:
            ex.save()
        return
    with block_network():
        yield AsyncReplayExecutor(path, mode="replay", api_version=version)
