"""The API key never leaks and never goes where data says (issue 11, items 6 to 10).

Every test here uses a canary key (a unique string no other code writes) and then looks for it in
everything the test made: every file under its directories, everything printed, every exception's
message, repr and traceback. Servers are real ones on 127.0.0.1: the emulator, or a tiny stdlib
server that answers as a hostile API would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo import model as m
from convo.cli import main
from convo.errors import APIConnectionError, APIError, ConvoError
from convo.executor import (
    AsyncHttpExecutor,
    BatchExecutor,
    CassetteError,
    HttpExecutor,
    MockExecutor,
    ReplayExecutor,
    RetryPolicy,
    Scrubber,
    load_cassette,
    run_file,
)
from convo.testing import Emulator

pytest_plugins = ["pytester"]

CANARY = "sk-ant-api03-CANARY7f3a-never-written-anywhere-0123456789abcdefABCDEF"
MODEL = "claude-sonnet-4-5"


def request(text: str) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": text}]}


def conv(text: str = "Hello") -> m.Conversation:
    return m.Conversation(model=MODEL, max_tokens=16, messages=[m.Message("user", text)])


def leaks(secret: str, *places: Path | str | bytes | BaseException | None) -> list[str]:
    """Where *secret* (or its core, without surrounding whitespace) shows: files under each
    directory or file, texts, and exceptions (message, repr, whole traceback)."""
    needles = {secret, secret.strip()}
    found: list[str] = []

    def look(what: str, data: str | bytes) -> None:
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
        if any(n.encode("utf-8", "surrogatepass") in raw for n in needles):
            found.append(what)

    for place in places:
        if place is None:
            continue
        if isinstance(place, BaseException):
            look(f"str({type(place).__name__})", str(place))
            look(f"repr({type(place).__name__})", repr(place))
            look("traceback", "".join(traceback.format_exception(place)))
        elif isinstance(place, Path):
            files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
            for p in files:
                look(str(p), p.read_bytes())
        else:
            look("text", place)
    return found


def write_requests(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(orjson.dumps(request(f"q{i}")) + b"\n" for i in range(n)))
    return path


def convo_cmd(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "convo.cli", *args], cwd=cwd, env={**os.environ, **env},
                          capture_output=True, timeout=timeout)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(batch_delay=0)
    e.start()
    try:
        yield e
    finally:
        e.stop()


# --------------------------------------------------------------------------- item 6


BAD_KEYS = {
    "newline": (CANARY + "\n", "ends with whitespace"),
    "crlf": (CANARY + "\r\n", "ends with whitespace"),
    "leading space": (" " + CANARY, "starts with whitespace"),
    "tab inside": (CANARY[:20] + "\t" + CANARY[20:], "control character"),
    "nul inside": (CANARY[:20] + "\x00" + CANARY[20:], "control character"),
    "non-ASCII": (CANARY[:-1] + "\u00e9", "non-ASCII character"),
    "curly quote": ("\u201c" + CANARY + "\u201d", "non-ASCII character"),
    "space inside": (CANARY[:20] + " " + CANARY[20:], "has a space"),
}


class TestMalformedKeys:
    @pytest.mark.parametrize("name", sorted(BAD_KEYS))
    @pytest.mark.parametrize("cls", [HttpExecutor, AsyncHttpExecutor, BatchExecutor])
    def test_refused_before_any_request(self, name: str, cls: type[Any], emu: Emulator) -> None:
        """A key a header cannot carry is refused when the executor is made: a ConvoError that
        names the problem and never the key; nothing reaches the server."""
        key, problem = BAD_KEYS[name]
        with pytest.raises(ConvoError, match=problem) as info:
            cls(key, base_url=emu.base_url)
        assert type(info.value) is ConvoError  # not a UnicodeEncodeError, not a connection error
        assert leaks(key, info.value) == []
        assert emu.log == []

    def test_from_the_environment(self, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        """The message says where the key came from (ANTHROPIC_API_KEY), not what it is."""
        monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY + "\n")
        with pytest.raises(ConvoError, match=r"ANTHROPIC_API_KEY\) ends with whitespace") as info:
            HttpExecutor(base_url=emu.base_url)
        assert leaks(CANARY, info.value) == []

    @given(st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
           st.sampled_from(["\n", "\r", "\t", "\x00", "\x7f", " ", "\u00a0", "\u2028", "\u00e9", "\U0001f511"]),
           st.integers(min_value=0, max_value=80), st.booleans())
    def test_property_any_bad_character_is_refused_without_the_key(
            self, body: str, bad: str, where: int, at_end: bool) -> None:
        """Any key holding a character a header cannot carry (or leading/trailing whitespace)
        raises ConvoError at construction, whose message, repr and traceback never hold it."""
        core = "sk-ant-api03-PROPCANARY-" + body
        key = core + bad if at_end else core[: where % (len(core) + 1)] + bad + core[where % (len(core) + 1):]
        with pytest.raises(ConvoError) as info:
            HttpExecutor(key, base_url="http://127.0.0.1:9")
        assert leaks("sk-ant-api03-PROPCANARY-", info.value) == []

    def test_header_values_are_checked_too(self) -> None:
        """A header given by the caller (or a beta name) with a newline is refused by name only."""
        with pytest.raises(ConvoError, match="the header 'x-custom' has a control character") as info:
            HttpExecutor("k", base_url="http://127.0.0.1:9", headers={"x-custom": CANARY + "\nx: y"})
        assert leaks(CANARY, info.value) == []
        with pytest.raises(ConvoError, match="anthropic-beta"):
            HttpExecutor("k", base_url="http://127.0.0.1:9", betas=["files-api\r\nx: y"])

    def test_a_refused_header_is_never_kept_nor_retried(self, tmp_path: Path) -> None:
        """Should h11 still refuse a header (its message quoting it), the error keeps none of its
        text, has no cause to show in a traceback, is not retried, and no exchange record holds it."""
        calls: list[int] = []

        def refuse(request: httpx.Request) -> httpx.Response:
            calls.append(1)
            raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {CANARY}\\n'")

        client = httpx.Client(transport=httpx.MockTransport(refuse))
        ex = HttpExecutor(CANARY, base_url="http://127.0.0.1:9", client=client,
                          retry=RetryPolicy(base=0.001, cap=0.002))
        with pytest.raises(APIError) as info:
            ex.execute(conv())
        assert not isinstance(info.value, APIConnectionError) and info.value.__cause__ is None
        assert leaks(CANARY, info.value) == [] and len(calls) == 1 and ex.stats.retries == 0
        src = write_requests(tmp_path / "in.jsonl", 3)
        summary = run_file(src, tmp_path / "out.jsonl", executor=ex, concurrency=2)
        assert summary.failures == 3 and len(calls) == 4
        assert leaks(CANARY, tmp_path) == []
        client.close()

    @pytest.mark.parametrize("step", [["run", "in.jsonl", "-o", "out.jsonl"],
                                      ["run", "in.jsonl", "-o", "out.jsonl", "--via", "batch"],
                                      ["batch", "submit", "in.jsonl", "-o", "job.json"]])
    def test_commands_refuse_and_print_no_key(self, step: list[str], emu: Emulator, tmp_path: Path) -> None:
        """`convo run` and `convo batch submit` with `$(cat keyfile)`'s newline: bad usage, the
        problem named, nothing sent, and the key in no file and nothing printed."""
        write_requests(tmp_path / "in.jsonl", 4)
        r = convo_cmd(step, tmp_path, {"ANTHROPIC_API_KEY": CANARY + "\n",
                                       "ANTHROPIC_BASE_URL": str(emu.base_url)})
        assert r.returncode == 2, r.stderr.decode()
        assert b"ends with whitespace" in r.stderr and b"Traceback" not in r.stderr
        assert leaks(CANARY, tmp_path, r.stdout, r.stderr) == []
        assert emu.log == []
        assert not (tmp_path / "out.jsonl").exists()


# --------------------------------------------------------------------------- item 7


class TestStateFileDoesNotDirectTheKey:
    @pytest.fixture
    def job(self, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A job submitted to the emulator; the environment then names no base URL."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
        write_requests(tmp_path / "in.jsonl", 2)
        assert main(["batch", "submit", "in.jsonl", "-o", "job.json", "-q",
                     "--base-url", str(emu.base_url)]) == 0
        monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
        return tmp_path / "job.json"

    def test_edited_base_url_gets_no_key(self, job: Path, emu: Emulator,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """A state file pointing at another server (edited, or made by someone else) does not
        send the key there: the step is refused, with the flag that would confirm it."""
        evil = Emulator(batch_delay=0)
        evil_url = evil.start()
        try:
            state = orjson.loads(job.read_bytes())
            state["base_url"] = evil_url
            job.write_bytes(orjson.dumps(state))
            capsys.readouterr()
            for step in (["batch", "status", "job.json"], ["batch", "results", "job.json", "-o", "out.jsonl"],
                         ["batch", "cancel", "job.json"], ["batch", "submit", "-o", "job.json"]):
                assert main(step) == 2, step
                err = capsys.readouterr().err
                assert f"confirm it with --base-url {evil_url}" in err
            assert evil.log == []  # the key never went there
            # named on the command line, it is the user's choice
            assert main(["batch", "status", "job.json", "--base-url", evil_url, "-q"]) == 1
            assert len(evil.log) == 1
        finally:
            evil.stop()
        out = capsys.readouterr()
        assert leaks(CANARY, job.parent, out.out, out.err) == []

    def test_api_version_from_the_state_is_checked(self, job: Path, capsys: pytest.CaptureFixture[str],
                                                   emu: Emulator) -> None:
        """The state's API version goes into a header: one that is not an API version is refused."""
        state = orjson.loads(job.read_bytes())
        state["api_version"] = "2026-10-21\r\nx-evil: 1"
        job.write_bytes(orjson.dumps(state))
        sent = len(emu.log)
        assert main(["batch", "status", "job.json", "--base-url", str(emu.base_url)]) == 2
        assert "is not one of" in capsys.readouterr().err
        assert len(emu.log) == sent


# --------------------------------------------------------------------------- item 8


class _HostileBatchAPI(BaseHTTPRequestHandler):
    """Answers every batch call with a batch whose id is a path (and results for it)."""

    bad_id = "../../evil"
    seen: list[tuple[str, str]]

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _batch(self) -> bytes:
        return orjson.dumps({"id": self.bad_id, "type": "message_batch", "processing_status": "ended",
                             "request_counts": {"processing": 0, "succeeded": 1, "errored": 0,
                                                "canceled": 0, "expired": 0},
                             "created_at": "2026-01-01T00:00:00Z"})

    def do_POST(self) -> None:
        self.server.seen.append(("POST", self.path))  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer(self._batch())

    def do_GET(self) -> None:
        self.server.seen.append(("GET", self.path))  # type: ignore[attr-defined]
        if self.path.endswith("/results"):
            self._answer(b'{"custom_id":"x","result":{"type":"canceled"}}\n', "application/binary")
        elif "?" in self.path or self.path.endswith("/batches"):
            self._answer(b'{"data":[' + self._batch() + b'],"has_more":false}')
        else:
            self._answer(self._batch())


@pytest.fixture
def hostile() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileBatchAPI)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


class TestBatchIdsAreNotPaths:
    def test_an_id_from_the_network_is_checked(self, hostile: tuple[str, list[Any]], tmp_path: Path) -> None:
        """A server answering a create with ``"id": "../../evil"``: the step fails, nothing is
        written outside the job's folder, and the id is never put in a URL."""
        url, seen = hostile
        job_dir = tmp_path / "jobs"
        job_dir.mkdir()
        write_requests(tmp_path / "in.jsonl", 2)
        env = {"ANTHROPIC_API_KEY": CANARY, "ANTHROPIC_BASE_URL": url}
        r = convo_cmd(["batch", "submit", "in.jsonl", "-o", "jobs/job.json", "-q"], tmp_path, env)
        assert r.returncode == 1 and b"batch id that is not one" in r.stderr, r.stderr.decode()
        r2 = convo_cmd(["batch", "results", "jobs/job.json", "-o", "out.jsonl", "-q",
                        "--poll-interval", "0.01"], tmp_path, env)
        assert r2.returncode in (1, 2)
        assert not list(tmp_path.rglob("evil*"))
        assert all("evil" not in path for _, path in seen)
        assert leaks(CANARY, tmp_path, r.stdout, r.stderr, r2.stdout, r2.stderr) == []

    def test_an_id_from_a_state_file_is_checked(self, emu: Emulator, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
        """A state file whose batch id (or candidate, or results name) is a path is refused
        before anything is fetched or written."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", str(emu.base_url))
        (tmp_path / "jobs").mkdir()
        write_requests(tmp_path / "in.jsonl", 2)
        assert main(["batch", "submit", "in.jsonl", "-o", "jobs/job.json", "-q"]) == 0
        good = orjson.loads((tmp_path / "jobs" / "job.json").read_bytes())
        for field, value in (("batch_id", "../../evil"), ("batch_id", "/tmp/evil"),
                             ("candidates", ["../evil"]), ("results", "../../evil.jsonl")):
            state = json.loads(json.dumps(good))
            state["batches"][0][field] = value
            (tmp_path / "jobs" / "job.json").write_bytes(orjson.dumps(state))
            sent = len(emu.log)
            assert main(["batch", "results", "jobs/job.json", "-o", "out.jsonl", "-q"]) == 2, field
            assert "is not" in capsys.readouterr().err
            assert len(emu.log) == sent
        assert not list(tmp_path.rglob("evil*")) and not Path("/tmp/evil.jsonl").exists()

    def test_client_methods_check_ids(self) -> None:
        """The batch client puts no id in a URL path that is not one."""
        with BatchExecutor("k", base_url="http://127.0.0.1:9") as ex:
            for call in (ex.retrieve_batch, ex.cancel_batch, ex.delete_batch):
                with pytest.raises(ConvoError, match="is not a Message Batch id"):
                    call("msgbatch_x/../../v1/messages")
            with pytest.raises(ConvoError, match="is not a Message Batch id"):
                list(ex.iter_results("../x"))


# --------------------------------------------------------------------------- items 9 and 10


UNIT_TEST = """
from convo import Conversation, Message

def test_unit(convo_executor):
    conv = Conversation(model="claude-sonnet-4-5", max_tokens=32,
                        messages=[Message("user", "write a unit test")])
    assert convo_executor.execute(conv).text == "echo: write a unit test"
"""


class TestCassetteScrubbing:
    def test_a_short_key_does_not_rewrite_the_conversation(self, tmp_path: Path) -> None:
        """With key ``test``, "write a unit test" is recorded and replayed as it was."""
        path = tmp_path / "c.jsonl"
        with Emulator(api_keys=["test"]) as url, \
                ReplayExecutor(path, mode="record", inner=HttpExecutor("test", base_url=url)) as rec:
            assert rec.execute(conv("write a unit test")).text == "echo: write a unit test"
        (line,) = [json.loads(x) for x in path.read_text().splitlines()]
        assert line["request"]["messages"][0]["content"] == "write a unit test"
        with ReplayExecutor(path) as rep:
            assert rep.execute(conv("write a unit test")).text == "echo: write a unit test"

    def test_a_one_letter_key_leaves_json_keys_alone(self, tmp_path: Path) -> None:
        """With key ``k``, every JSON key of the cassette is as written (none is redacted)."""
        path = tmp_path / "c.jsonl"
        with Emulator(api_keys=["k"]) as url, \
                ReplayExecutor(path, mode="record", inner=HttpExecutor("k", base_url=url)) as rec:
            want = rec.execute(conv("keep"))
        line = json.loads(path.read_text())
        assert set(line) == {"key", "endpoint", "request", "response"}
        assert set(line["request"]) == {"model", "max_tokens", "messages"}
        assert "<redacted>" not in path.read_text()
        with ReplayExecutor(path) as rep:
            assert rep.execute(conv("keep")) == want

    def test_record_with_the_plugin_then_replay(self, pytester: pytest.Pytester,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
        """The issue's case end to end: `pytest --convo-record` with ANTHROPIC_API_KEY=test,
        then a plain run replays it and passes."""
        emu = Emulator(api_keys=["test"])
        url = emu.start()
        try:
            monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
            monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
            pytester.makepyfile(test_unit=UNIT_TEST)
            pytester.runpytest("--convo-record", "-p", "no:randomly").assert_outcomes(passed=1)
        finally:
            emu.stop()
        monkeypatch.delenv("ANTHROPIC_API_KEY")
        monkeypatch.delenv("ANTHROPIC_BASE_URL")
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)

    def test_real_keys_and_secret_fields_are_redacted(self, tmp_path: Path) -> None:
        """A real key pasted into a prompt, or held in a field named like a credential, is not
        written; replay still finds the exchange (its key is the request's hash)."""
        path = tmp_path / "c.jsonl"
        leaky = m.Conversation(model=MODEL, max_tokens=256,
                               messages=[m.Message("user", f"my key is {CANARY}, please keep it")])
        tool = m.Conversation(model=MODEL, max_tokens=16, messages=[
            m.Message("user", "call it"),
            m.Message("assistant", [m.ToolUse(id="toolu_1", name="login",
                                              input={"api_key": "hunter2-short", "user": "me"})]),
            m.Message("user", [m.ToolResult(tool_use_id="toolu_1", content="ok")])])
        with Emulator() as url, \
                ReplayExecutor(path, mode="record", inner=HttpExecutor(CANARY, base_url=url)) as rec:
            assert CANARY in rec.execute(leaky).text  # the emulator echoes it: a leak would show
            rec.execute(tool)
        text = path.read_text()
        assert leaks(CANARY, tmp_path) == [] and "hunter2-short" not in text
        assert '"api_key":"<redacted>"' in text and '"user":"me"' in text
        with ReplayExecutor(path) as rep:
            assert "<redacted>" in rep.execute(leaky).text

    @given(st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=20), st.lists(st.text(min_size=1, max_size=15), max_size=3))
    def test_property_short_secrets_change_nothing_and_structure_stays(self, value: Any,
                                                                       secrets: list[str]) -> None:
        """A secret too short to tell from words changes no value; keys and shape never change."""
        scrubbed = Scrubber(secrets=secrets).scrub(value)
        if "sk-ant-" not in json.dumps(value) and not _secret_field(value):
            assert scrubbed == (json.loads(json.dumps(value)) if isinstance(value, tuple) else value)
        assert _shape(scrubbed) == _shape(value)

    @given(st.lists(st.text(min_size=0, max_size=20), max_size=5),
           st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=40))
    def test_property_long_secrets_are_never_written(self, words: list[str], secret: str) -> None:
        """A known secret of 16 characters or more is in no string value once scrubbed."""
        value = {"a": [w + secret + w for w in words], secret: secret, "b": {"c": f"x{secret}y"}}
        scrubbed = Scrubber(secrets=[secret]).scrub(value)
        strings = json.dumps(list(_values(scrubbed)))
        assert secret not in strings
        assert secret in scrubbed  # a JSON key is structure: left alone


def _secret_field(value: Any) -> bool:
    from convo.executor._replay import _SECRET_FIELDS

    if isinstance(value, dict):
        return any((k.casefold() in _SECRET_FIELDS and isinstance(v, str)) or _secret_field(v)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(_secret_field(v) for v in value)
    return False


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    return type(value).__name__


def _values(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _values(v)
    else:
        yield value


ODD_ENTRIES = [
    [1, 2],
    "just a string",
    {"endpoint": "messages", "response": {}},
    {"key": 5, "response": {}},
    {"key": "k", "endpoint": 7, "response": {}},
    {"key": "k", "endpoint": "nope", "response": {}},
    {"key": "k", "request": [1], "response": {}},
    {"key": "k"},
    {"key": "k", "response": {}, "error": {"status": 500}},
    {"key": "k", "response": [1]},
    {"key": "k", "response": "text"},
    {"key": "k", "events": {"a": 1}},
    {"key": "k", "events": [1, 2]},
    {"key": "k", "events": [{"event": "message_start"}]},
    {"key": "k", "events": [{"event": 5, "data": {}}]},
    {"key": "k", "events": [{"event": "ping", "data": "not an object"}]},
    {"key": "k", "error": "boom"},
    {"key": "k", "error": {}},
    {"key": "k", "error": {"status": "500"}},
    {"key": "k", "error": {"status": 99999}},
    {"key": "k", "error": {"status": 500, "message": ["x"]}},
    {"key": "k", "endpoint": "count_tokens", "response": {}},
    {"key": "k", "endpoint": "count_tokens", "response": {"input_tokens": "12"}},
    {"key": "k", "endpoint": "count_tokens", "events": []},
]


class TestOddCassetteEntries:
    @pytest.mark.parametrize("entry", ODD_ENTRIES, ids=[str(i) for i in range(len(ODD_ENTRIES))])
    def test_loading_names_the_line(self, entry: Any, tmp_path: Path) -> None:
        """A line that is not a recorded exchange: CassetteError naming the file and the line."""
        path = tmp_path / "c.jsonl"
        good = {"key": "a", "endpoint": "messages", "request": {}, "response": {"content": []}}
        path.write_bytes(orjson.dumps(good) + b"\n" + orjson.dumps(entry) + b"\n")
        for load in (load_cassette, lambda p: ReplayExecutor(p), lambda p: Emulator(cassette=p)):
            with pytest.raises(CassetteError, match=f"^{path}:2: "):
                load(path)

    @pytest.mark.parametrize("outcome", [
        {"response": {"content": 5}},
        {"response": {"content": [{"type": []}]}},
        {"response": {"usage": {"input_tokens": "many"}}},
        {"events": []},
        {"events": [{"event": "message_start", "data": {"type": "message_start", "message": 5}}]},
        {"events": [{"event": "content_block_delta", "data": {"type": "content_block_delta", "index": 9}}]},
    ])
    def test_replaying_a_bad_reply_names_the_line(self, outcome: dict[str, Any], tmp_path: Path) -> None:
        """A recorded reply that does not make a message: CassetteError naming the line, at replay."""
        from convo.executor._replay import _request_json, request_key

        c = conv("odd")
        path = tmp_path / "c.jsonl"
        entry = {"key": request_key(c), "endpoint": "messages", "request": _request_json(c), **outcome}
        path.write_bytes(b"\n" + orjson.dumps(entry) + b"\n")
        with ReplayExecutor(path) as rep, pytest.raises(CassetteError, match=f"^{path}:2: "):
            rep.execute(c)

    @given(st.dictionaries(
        st.sampled_from(["key", "endpoint", "request", "response", "events", "error", "x"]),
        st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["status", "event", "data", "input_tokens",
                                                         "content", "type", "body"]), inner, max_size=3),
                     max_leaves=12),
        max_size=5))
    def test_fuzz_only_convo_errors_escape(self, entry: dict[str, Any]) -> None:
        """Whatever a cassette line holds, loading and replaying it raise only convo's errors."""
        import tempfile

        from convo.executor._replay import _request_json, request_key

        c = conv("fuzz")
        if isinstance(entry.get("key"), str) or "key" in entry:
            entry = {**entry, "key": request_key(c)} if entry.get("key") is not None else entry
        entry.setdefault("request", _request_json(c))
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "c.jsonl"
            path.write_bytes(orjson.dumps(entry) + b"\n")
            try:
                with ReplayExecutor(path, validate=False) as rep:
                    rep.execute(c)
                    rep.count_tokens(c)
            except ConvoError:
                pass


class TestMockExecutorsStillRecord:
    def test_mock_inner_records_without_secrets(self, tmp_path: Path) -> None:
        """A recording through a mock (no key at all) writes the exchange as it was."""
        path = tmp_path / "c.jsonl"
        with ReplayExecutor(path, mode="record", inner=MockExecutor(lambda c: "a unit test")) as rec:
            rec.execute(conv("test"))
        assert "a unit test" in path.read_text() and "<redacted>" not in path.read_text()
