"""Tests for convo.testing.pytest_plugin: the convo_executor fixture, recording, replay, the network guard."""

from __future__ import annotations

import json

import pytest

from convo import model as m
from convo.testing import Emulator
from convo.testing.pytest_plugin import (
    NetworkBlockedError,
    block_network,
    cassette_name,
    is_loopback,
)

pytest_plugins = ["pytester"]

KEY = "sk-ant-api03-PLUGIN-TEST-KEY-0123456789abcdef"

HELLO_TEST = """
from convo import Conversation, Message

def test_hello(convo_executor):
    conv = Conversation(model="claude-sonnet-4-5", max_tokens=32, messages=[Message("user", "Hello")])
    reply = convo_executor.execute(conv)
    assert reply.text == "echo: Hello"
"""

# A conftest for the inner runs: the socket layer underneath is a recorder, so no test here can
# send a packet anywhere even if the guard were broken.
FAKE_SOCKETS = """
import socket
import pytest

CALLS = []

@pytest.fixture(autouse=True)
def fake_sockets(monkeypatch):
    def connect(self, address):
        CALLS.append(address)
        raise ConnectionRefusedError("fake socket layer")
    def connect_ex(self, address):
        CALLS.append(address)
        return 111
    def getaddrinfo(host, port, *args, **kwargs):
        CALLS.append(("dns", host))
        raise OSError("fake resolver")
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    CALLS.clear()
    yield CALLS
"""


@pytest.fixture
def emulator_env(monkeypatch: pytest.MonkeyPatch) -> Emulator:
    emu = Emulator(api_keys=[KEY])
    url = emu.start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    yield emu  # type: ignore[misc]
    emu.stop()


class TestCassetteNames:
    def test_node_ids_become_file_names(self) -> None:
        """Node ids map to readable, file-safe names; long ones are shortened with a hash."""
        assert cassette_name("tests/test_x.py::TestA::test_b[1-2]") == "tests.test_x__TestA__test_b[1-2]"
        assert cassette_name("test_y.py::test_z[a/b c?]") == "test_y__test_z[a_b_c_]"
        long_a = cassette_name("t.py::test_" + "a" * 300 + "[1]")
        long_b = cassette_name("t.py::test_" + "a" * 300 + "[2]")
        assert len(long_a) <= 150 and long_a != long_b

    def test_loopback_hosts(self) -> None:
        """Only the loopback range and localhost count as local."""
        assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
        assert not is_loopback("192.0.2.1") and not is_loopback("example.com") and not is_loopback(None)


class TestBlockNetwork:
    def test_guard_checks_before_the_socket_layer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Blocked addresses never reach the socket layer; loopback ones pass through to it."""
        import socket

        calls: list[object] = []

        def fake_connect(self: socket.socket, address: object) -> None:
            calls.append(address)

        monkeypatch.setattr(socket.socket, "connect", fake_connect)
        monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: calls.append(("dns", a[0])) or [])
        with block_network():
            s = socket.socket()
            with pytest.raises(NetworkBlockedError, match=r"192\.0\.2\.1:443"):
                s.connect(("192.0.2.1", 443))
            with pytest.raises(NetworkBlockedError, match=r"api\.anthropic\.com"):
                socket.getaddrinfo("api.anthropic.com", 443)
            s.connect(("127.0.0.1", 8080))
            socket.getaddrinfo("localhost", 80)
            s.close()
        assert calls == [("127.0.0.1", 8080), ("dns", "localhost")]
        assert socket.socket.connect is fake_connect  # restored afterwards

    def test_not_an_os_error(self) -> None:
        """The block is not an OSError, so HTTP clients do not turn it into a retried connection error."""
        assert not issubclass(NetworkBlockedError, OSError)


class TestFixture:
    def test_record_then_replay(self, pytester: pytest.Pytester, emulator_env: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        """--convo-record records through the emulator (key scrubbed); a plain run then replays offline."""
        pytester.makepyfile(test_hello=HELLO_TEST)
        rec = pytester.runpytest("--convo-record", "-p", "no:randomly")
        rec.assert_outcomes(passed=1)
        cassette = pytester.path / "fixtures" / "cassettes" / "test_hello__test_hello.jsonl"
        text = cassette.read_text()
        assert KEY not in text
        (line,) = [json.loads(x) for x in text.splitlines()]
        assert line["request"]["messages"] == [{"role": "user", "content": "Hello"}]
        assert len(emulator_env.log) == 1
        emulator_env.stop()
        monkeypatch.delenv("ANTHROPIC_API_KEY")
        monkeypatch.delenv("ANTHROPIC_BASE_URL")
        rep = pytester.runpytest("-p", "no:randomly")
        rep.assert_outcomes(passed=1)
        assert len(emulator_env.log) == 1  # nothing sent while replaying

    def test_missing_cassette_fails_with_advice(self, pytester: pytest.Pytester) -> None:
        """Replaying without a cassette fails the test and says how to record it."""
        pytester.makepyfile(test_hello=HELLO_TEST)
        result = pytester.runpytest("-p", "no:randomly")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*CassetteMissError*does not exist*--convo-record*"])

    def test_network_is_blocked_only_while_replaying(self, pytester: pytest.Pytester) -> None:
        """With the fixture in replay mode outside addresses raise; loopback and tests without it are untouched."""
        pytester.makeconftest(FAKE_SOCKETS)
        pytester.makepyfile(test_net="""
import socket
import httpx
import pytest
from convo.testing.pytest_plugin import NetworkBlockedError

def test_blocked(convo_executor, fake_sockets):
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("192.0.2.1", 443))
    with pytest.raises(NetworkBlockedError):
        httpx.get("https://api.anthropic.com/v1/models")
    s = socket.socket()
    with pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", 9))
    s.close()
    assert fake_sockets == [("127.0.0.1", 9)]

def test_without_fixture(fake_sockets):
    s = socket.socket()
    with pytest.raises(ConnectionRefusedError):
        s.connect(("192.0.2.1", 443))
    s.close()
    assert fake_sockets == [("192.0.2.1", 443)]
""")
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)

    def test_marker_and_directory_option(self, pytester: pytest.Pytester, emulator_env: Emulator) -> None:
        """convo_cassette names the file and --convo-cassettes chooses the directory; tests can share one."""
        pytester.makepyfile(test_shared="""
import pytest
from convo import Conversation, Message

def _ask(ex, text):
    return ex.execute(Conversation(model="claude-sonnet-4-5", max_tokens=32, messages=[Message("user", text)])).text

@pytest.mark.convo_cassette("shared")
def test_one(convo_executor):
    assert _ask(convo_executor, "one") == "echo: one"

@pytest.mark.convo_cassette("shared")
def test_two(convo_executor):
    assert _ask(convo_executor, "one") == "echo: one"
""")
        pytester.runpytest("--convo-record", "--convo-cassettes", "cas", "-p", "no:randomly", "-k", "test_one").assert_outcomes(passed=1)
        assert (pytester.path / "cas" / "shared.jsonl").exists()
        pytester.runpytest("--convo-cassettes", "cas", "-p", "no:randomly").assert_outcomes(passed=2)

    def test_async_fixture(self, pytester: pytest.Pytester, emulator_env: Emulator) -> None:
        """convo_async_executor records and replays for async code."""
        pytester.makepyfile(test_async="""
import asyncio
from convo import Conversation, Message

def test_async(convo_async_executor):
    conv = Conversation(model="claude-sonnet-4-5", max_tokens=32, messages=[Message("user", "Async")])
    assert asyncio.run(convo_async_executor.execute(conv)).text == "echo: Async"
""")
        pytester.runpytest("--convo-record", "-p", "no:randomly").assert_outcomes(passed=1)
        emulator_env.stop()
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


class TestCommittedCassette:
    """Uses the plugin for real: replays fixtures/cassettes/tests.test_plugin__TestCommittedCassette__*.jsonl.

    Recorded against the emulator with ``ANTHROPIC_BASE_URL=<convo serve url> pytest --convo-record``.
    """

    def test_multi_turn_conversation(self, convo_executor: object, request: pytest.FixtureRequest) -> None:
        """A two-turn conversation replays from the committed cassette with the network blocked."""
        from convo.executor import ReplayExecutor

        assert isinstance(convo_executor, ReplayExecutor)
        assert convo_executor.recording == request.config.getoption("convo_record")
        conv = m.Conversation(model="claude-sonnet-4-5", max_tokens=64, messages=[m.Message("user", "What is 2 + 2?")])
        first = convo_executor.execute(conv)
        assert first.text == "echo: What is 2 + 2?"
        conv = conv.with_response(first).user("And times 3?")
        second = convo_executor.execute(conv)
        assert second.text == "echo: And times 3?"
        assert isinstance(second.usage, m.Usage) and second.usage.output_tokens
        assert convo_executor.count_tokens(conv) > 0


# a request valid under 2023-06-01 only (temperature: sampling.removed under 2026-10-21)
OLD_TEMPERATURE_TEST = """
import attrs
from convo import Conversation, Message

def test_old(convo_executor):
    conv = Conversation(model="claude-sonnet-4-5", max_tokens=32, messages=[Message("user", "Old")])
    assert convo_executor.execute(attrs.evolve(conv, temperature=0.2)).text == "echo: Old"
"""


class TestApiVersionOption:
    def test_ini_option_sets_the_version(self, pytester: pytest.Pytester, emulator_env: Emulator) -> None:
        """convo_api_version = 2023-06-01 records with x-api-key and replays a request only valid there."""
        pytester.makeini("[pytest]\nconvo_api_version = 2023-06-01\n")
        pytester.makepyfile(test_old=OLD_TEMPERATURE_TEST)
        pytester.runpytest("--convo-record", "-p", "no:randomly").assert_outcomes(passed=1)
        assert emulator_env.log[0].api_key_scheme == "x-api-key"
        emulator_env.stop()
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)

    def test_replay_without_the_option_uses_the_recorded_version(
            self, pytester: pytest.Pytester, emulator_env: Emulator) -> None:
        """Issue 12: a cassette recorded under 2023-06-01 replays once the ini option is gone (the
        cassette keeps the version); setting it to 2026-10-21 checks under that and refuses."""
        pytester.makeini("[pytest]\nconvo_api_version = 2023-06-01\n")
        pytester.makepyfile(test_old=OLD_TEMPERATURE_TEST)
        pytester.runpytest("--convo-record", "-p", "no:randomly").assert_outcomes(passed=1)
        emulator_env.stop()
        pytester.makeini("[pytest]\n")
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
        pytester.makeini("[pytest]\nconvo_api_version = 2026-10-21\n")
        result = pytester.runpytest("-p", "no:randomly")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*sampling.removed*"])
