"""``convo run --resume`` (issue 11, items 14 to 17): keyed by the file, no reject twice, flat
memory next to a large output, and no answer that came back paid for twice.

Library tests interrupt :func:`run_file` deterministically (an executor that raises
KeyboardInterrupt at a chosen call, as Ctrl-C would); the kill tests run ``convo run`` as a real
process against the emulator on 127.0.0.1 and send it SIGTERM, SIGHUP or SIGKILL mid-work.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convo import model as m
from convo.errors import ConvoError
from convo.executor import MockExecutor
from convo.jobs import run_file
from convo.jobs.run import job_dir_for
from convo.testing import Emulator

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

KEY = "sk-ant-api03-RESUMETEST-0123456789abcdef"
MODEL = "claude-sonnet-4-5"


def request(text: str) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": text}]}


def write_input(path: Path, n: int, *, bad: Callable[[int], bool] = lambda i: False) -> Path:
    """*n* lines ``item i``; those where *bad(i)* are not JSON (``{not json i``)."""
    with open(path, "wb") as f:
        for i in range(n):
            f.write(b"{not json %d\n" % i if bad(i) else orjson.dumps(request(f"item {i}")) + b"\n")
    return path


def records(path: Path) -> list[dict[str, Any]]:
    """The complete lines of *path* (a line still being written, without its newline, is not one)."""
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().split(b"\n")[:-1]]


def text_of(conv: m.Conversation) -> str:
    return str(conv.messages[0].content)


class Stopper(MockExecutor):
    """Answers ``re: <text>``, and raises KeyboardInterrupt (Ctrl-C) at its *stop_at*-th call."""

    def __init__(self, stop_at: int | None = None) -> None:
        super().__init__(lambda c: "re: " + text_of(c))
        self.stop_at = stop_at
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def execute(self, conversation: m.Conversation) -> m.Response:
        with self._lock:
            if self.stop_at is not None and len(self.sent) >= self.stop_at:
                raise KeyboardInterrupt
            self.sent.append(text_of(conversation))
        return super().execute(conversation)


def interrupted(src: Any, out: Path, stop_at: int, **kw: Any) -> Stopper:
    ex = Stopper(stop_at)
    with pytest.raises(KeyboardInterrupt):
        run_file(src, out, executor=ex, **kw)
    return ex


# --------------------------------------------------------------------------- item 14


class TestKeyedByTheFile:
    def test_other_spellings_of_a_finished_run_send_nothing(self, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        """in.jsonl, then ./in.jsonl, the absolute path and a symlink: nothing is sent again and
        the output keeps one record per line (it had 30 for 10 lines)."""
        monkeypatch.chdir(tmp_path)
        write_input(tmp_path / "in.jsonl", 10)
        (tmp_path / "link.jsonl").symlink_to(tmp_path / "in.jsonl")
        first = Stopper()
        run_file("in.jsonl", "out.jsonl", executor=first)
        assert len(first.sent) == 10
        for spelling in ("./in.jsonl", str(tmp_path / "in.jsonl"), "link.jsonl", "sub/../in.jsonl"):
            (tmp_path / "sub").mkdir(exist_ok=True)
            again = Stopper()
            s = run_file(spelling, "out.jsonl", executor=again, resume=True)
            assert again.sent == [] and (s.skipped, s.succeeded) == (10, 0), spelling
        assert len(records(tmp_path / "out.jsonl")) == 10

    def test_other_spellings_mid_run_keep_the_first_names(self, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
        """Interrupted, then resumed under another spelling: only the unanswered lines are sent,
        and every record's id names the file as the run began."""
        monkeypatch.chdir(tmp_path)
        write_input(tmp_path / "in.jsonl", 10)
        first = interrupted("in.jsonl", tmp_path / "out.jsonl", 4, concurrency=1)
        rest = Stopper()
        s = run_file(f"{tmp_path}/./in.jsonl", "out.jsonl", executor=rest, resume=True, concurrency=1)
        assert sorted(first.sent + rest.sent) == sorted(f"item {i}" for i in range(10))
        assert s.skipped == 4 and s.succeeded == 6
        assert [r["id"] for r in records(tmp_path / "out.jsonl")] == [f"in.jsonl:{i}" for i in range(1, 11)]
        assert not Path(job_dir_for("out.jsonl")).exists()

    @pytest.mark.parametrize("change", ["another file", "edited", "grown", "shrunk"])
    def test_a_different_file_is_refused(self, change: str, tmp_path: Path) -> None:
        """Resuming against a file that is not the one the run started from says so, sends
        nothing and leaves the output as it was."""
        src, out = write_input(tmp_path / "in.jsonl", 10), tmp_path / "out.jsonl"
        interrupted(src, out, 4, concurrency=1)
        before = out.read_bytes()
        if change == "another file":
            other = write_input(tmp_path / "other.jsonl", 10)
            other.write_bytes(other.read_bytes().replace(b"item 0", b"item X"))
            src = other
        elif change == "edited":
            src.write_bytes(src.read_bytes().replace(b"item 0", b"item X"))
        elif change == "grown":
            src.write_bytes(src.read_bytes() + orjson.dumps(request("new")) + b"\n")
        else:
            src.write_bytes(src.read_bytes()[:-40])
        ex = Stopper()
        with pytest.raises(ConvoError, match="is not the input it was started from"):
            run_file(src, out, executor=ex, resume=True)
        assert ex.sent == [] and out.read_bytes() == before

    def test_a_finished_output_of_another_input_is_refused(self, tmp_path: Path) -> None:
        """A finished output (its state gone) is checked record by record: another input's
        output is refused, naming the record."""
        a = write_input(tmp_path / "a.jsonl", 5)
        b = tmp_path / "b.jsonl"
        b.write_bytes(b"".join(orjson.dumps({"custom_id": f"c{i}", "params": request(f"b {i}")}) + b"\n"
                               for i in range(5)))
        run_file(a, tmp_path / "out.jsonl", executor=Stopper())
        ex = Stopper()
        with pytest.raises(ConvoError, match=r"record 1 of .* is '.*a\.jsonl:1', not 'c0'"):
            run_file(b, tmp_path / "out.jsonl", executor=ex, resume=True)
        assert ex.sent == []


    def test_an_output_longer_than_the_input_is_refused(self, tmp_path: Path) -> None:
        """A finished output with more records than the input has lines is not continued."""
        src, out = write_input(tmp_path / "in.jsonl", 5), tmp_path / "out.jsonl"
        run_file(src, out, executor=Stopper())
        write_input(src, 3)
        with pytest.raises(ConvoError, match="holds more records than the inputs have request lines"):
            run_file(src, out, executor=Stopper(), resume=True)
        assert len(records(out)) == 5


# --------------------------------------------------------------------------- item 15


class TestRejectsOnce:
    def test_rejects_are_not_duplicated_across_resumes(self, tmp_path: Path) -> None:
        """Five bad lines stay five reject records after any number of interrupted runs, and
        in = out + rejected holds for the files (it was 8, then 11)."""
        src = write_input(tmp_path / "in.jsonl", 20, bad=lambda i: i % 4 == 1)
        out, rej = tmp_path / "out.jsonl", tmp_path / "rej.jsonl"
        interrupted(src, out, 3, rejects=rej, concurrency=1)
        for stop in (2, 3, 1):
            interrupted(src, out, stop, rejects=rej, concurrency=1, resume=True)
        s = run_file(src, out, executor=Stopper(), rejects=rej, resume=True)
        s2 = run_file(src, out, executor=Stopper(), rejects=rej, resume=True)
        rejected = records(rej)
        assert [r["line"] for r in rejected] == [2, 6, 10, 14, 18]
        assert [r["raw"] for r in rejected] == [f"{{not json {i}" for i in (1, 5, 9, 13, 17)]
        assert len(records(out)) == 15 and len(records(out)) + len(rejected) == 20
        assert (s.total, s.rejected) == (15, 5) and (s2.total, s2.rejected, s2.skipped) == (15, 5, 15)

    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None,
              max_examples=max(10, settings().max_examples // 3))
    @given(st.lists(st.booleans(), min_size=1, max_size=30),
           st.lists(st.integers(min_value=0, max_value=6), max_size=5),
           st.integers(min_value=1, max_value=4))
    def test_property_any_interruptions_add_up(self, tmp_path_factory: pytest.TempPathFactory,
                                               bad: list[bool], stops: list[int], concurrency: int) -> None:
        """Whatever lines are bad and wherever runs are interrupted: in the end every good line
        has one record, in input order, every bad line one reject, in order, and no line that
        got an answer was sent again."""
        d = tmp_path_factory.mktemp("prop")
        src = write_input(d / "in.jsonl", len(bad), bad=lambda i: bad[i])
        out, rej = d / "out.jsonl", d / "rej.jsonl"
        sent: list[str] = []
        for k, stop in enumerate(stops):
            ex = Stopper(stop)
            with contextlib.suppress(KeyboardInterrupt):
                run_file(src, out, executor=ex, rejects=rej, resume=k > 0, concurrency=concurrency)
            sent += ex.sent
        last = Stopper()
        s = run_file(src, out, executor=last, rejects=rej, resume=bool(stops), concurrency=concurrency)
        sent += last.sent
        good = [i for i, b in enumerate(bad) if not b]
        assert [r["id"] for r in records(out)] == [f"{src}:{i + 1}" for i in good]
        assert [r["line"] for r in records(rej)] == [i + 1 for i, b in enumerate(bad) if b]
        assert s.total + s.rejected == len(bad)
        # a Stopper that raises has handed back every answer it gave: none is sent twice
        assert Counter(sent) == Counter(f"item {i}" for i in good)


# --------------------------------------------------------------------------- item 16


class TestFlatMemory:
    def test_resume_streams_a_large_output(self, tmp_path: Path) -> None:
        """--resume next to a 96 MB output takes no more memory than next to a one-line output,
        within 16 MB (it read the output whole: about twice its size more)."""
        text = "x" * 3000
        src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        size = 0
        with open(src, "wb") as fi, open(out, "wb") as fo:
            n = 0
            while size < 96_000_000:
                n += 1
                req = request(f"{n} {text}")
                fi.write(orjson.dumps(req) + b"\n")
                line = orjson.dumps({"id": f"in.jsonl:{n}", "request": req, "response": {
                    "id": f"msg_{n}", "type": "message", "role": "assistant", "content": [
                        {"type": "text", "text": text}], "usage": {"input_tokens": 1, "output_tokens": 1}}})
                fo.write(line + b"\n")
                size += len(line) + 1
            fi.write(orjson.dumps(request("the last one")) + b"\n")
        # VmHWM, not ru_maxrss: that one keeps the size this test process had when it forked
        code = ("import re; from convo.executor import MockExecutor; from convo.jobs import run_file;"
                "s = run_file('in.jsonl', 'out.jsonl', executor=MockExecutor(lambda c: 'ok'), resume=True);"
                "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1);"
                "print(s.skipped, s.succeeded, hwm)")

        def peak(cwd: Path) -> tuple[int, int, int]:
            r = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, timeout=300)
            assert r.returncode == 0, r.stderr.decode()
            skipped, succeeded, peak_kb = map(int, r.stdout.split())
            return skipped, succeeded, peak_kb * 1024

        small = tmp_path / "small"
        small.mkdir()
        with open(src, "rb") as fi, open(out, "rb") as fo:
            (small / "in.jsonl").write_bytes(fi.readline() + orjson.dumps(request("the last one")) + b"\n")
            (small / "out.jsonl").write_bytes(fo.readline())
        assert peak(small)[:2] == (1, 1)
        skipped, succeeded, large = peak(tmp_path)
        assert (skipped, succeeded) == (n, 1)
        base = peak(small)[2]
        assert large - base < 16_000_000, f"{(large - base) / 1e6:.0f} MB more next to a {size / 1e6:.0f} MB output"


class TestSkippingSettledLines:
    @given(st.lists(st.sampled_from([b"", b"  ", b'{"a": 1}', b"\xef\xbb\xbf{}", b"x" * 300, b"\x1f\x8b junk",
                                     b'{"b": "\r"}\r', b"not json"]), max_size=40),
           st.integers(min_value=0, max_value=45), st.booleans(), st.booleans())
    def test_property_same_lines_as_reading_everything(self, lines: list[bytes], skip: int, gz: bool,
                                                       bom: bool) -> None:
        """After skipping k lines (counted, not split), the lines are the very lines (numbers,
        bytes, errors) that reading the whole file gives after line k: gzip or not, with byte
        order marks, blank lines, CRLF and lines that look like gzip."""
        import gzip
        import tempfile

        from convo.codec.jsonl import iter_lines
        from convo.jobs.run import _lines_after

        data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + (b"\n" if lines else b"")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "in.jsonl")
            Path(p).write_bytes(gzip.compress(data) if gz else data)
            want = [(r.line, r.data, r.error is None) for r in iter_lines(p) if r.line > skip]
            got = [(r.line, r.data, r.error is None) for r in _lines_after(p, skip)]
            assert got == want
            assert all(r.file == p for r in _lines_after(p, skip))


# --------------------------------------------------------------------------- items 11 and 17: kills


def _slow_handler(pause: Callable[[str], float]) -> Callable[[m.Conversation], str]:
    def answer(conv: m.Conversation) -> str:
        time.sleep(pause(text_of(conv)))
        return "ok"
    return answer


def _sent(emu: Emulator) -> list[tuple[str, float, int | None]]:
    """(text, time, status) of each messages request the emulator logged."""
    return [(r.body["messages"][0]["content"], r.time, r.status) for r in list(emu.log)
            if r.path == "/v1/messages" and isinstance(r.body, dict)]


def _answered_on_disk(d: Path, out: Path) -> set[str]:
    """The lines whose answer is on disk: records in OUT and answers in the journal."""
    texts = {r["request"]["messages"][0]["content"] for r in records(out)}
    journal = Path(job_dir_for(out)) / "journal.jsonl"
    if journal.exists():
        from convo.jobs.run import _journal_lines

        at = {tuple(h["at"]) for _, h in _journal_lines(str(journal)) if "at" in h}
        src_lines = (d / "in.jsonl").read_bytes().split(b"\n")
        for _fi, line in at:
            texts.add(orjson.loads(src_lines[line - 1])["messages"][0]["content"])
    return texts


def _convo(d: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    with open(d / "stderr.log", "ab") as err:
        return subprocess.Popen([sys.executable, "-m", "convo.cli", "run", "in.jsonl", "-o", "out.jsonl",
                                 "-q", *args], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=err)


def _wait(cond: Callable[[], bool], proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc is None or proc.poll() is None, "the run ended before the point it was to be killed at"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def processes_in(d: Path) -> list[int]:
    """Live processes (not zombies) whose working directory is *d* (Linux; elsewhere none)."""
    out = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") != str(d):
                    continue
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                out.append(int(entry))
    return out


@pytest.fixture
def slow_emu() -> Iterator[Emulator]:
    emu = Emulator()
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


class TestKills:
    CONCURRENCY = 6
    LINES = 150

    @pytest.mark.parametrize(("sig", "point"), [
        ("SIGKILL", 0.15), ("SIGKILL", 0.5), ("SIGKILL", 0.85),
        ("SIGTERM", 0.15), ("SIGTERM", 0.5), ("SIGTERM", 0.85), ("SIGHUP", 0.5),
    ])
    def test_kill_mid_work_then_resume(self, sig: str, point: float, slow_emu: Emulator,
                                       tmp_path: Path) -> None:
        """Killed at a random moment once a fraction of the work is done, then resumed: no answer
        that was on disk is sent again (SIGTERM/SIGHUP: none at all; SIGKILL: only the requests in
        flight), one record per line in input order, each bad line rejected once, no temporary
        file, state folder or process left."""
        rng = random.Random(f"{sig}{point}")
        signum = getattr(signal, sig)

        def pause(text: str) -> float:
            n = int(text.split()[-1])
            return 0.4 if n % 17 == 5 else 0.01 + (n * 7919 % 5) * 0.01  # out of order on purpose

        slow_emu.handler = _slow_handler(pause)
        d = tmp_path
        write_input(d / "in.jsonl", self.LINES, bad=lambda i: i % 10 == 9)
        good = [i for i in range(self.LINES) if i % 10 != 9]
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": str(slow_emu.base_url)}
        out = d / "out.jsonl"
        proc = _convo(d, env, "--concurrency", str(self.CONCURRENCY))
        _wait(lambda: len(records(out)) >= point * len(good), proc)
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is not None:
            pytest.skip("the run finished before the kill (a very fast machine)")
        proc.send_signal(signum)
        rc = proc.wait(timeout=60)
        if rc == -signum != -signal.SIGKILL and not Path(job_dir_for(out)).exists():
            # the signal came as the finished command was exiting (its handlers already gone)
            assert len(records(out)) == len(good)
            pytest.skip("the run finished just before the signal")
        assert rc == (-signum if sig == "SIGKILL" else 128 + signum), (d / "stderr.log").read_text()[-2000:]
        assert processes_in(d) == []
        time.sleep(0.5)  # the server finishes the answers the dead process will never read
        on_disk = _answered_on_disk(d, out)
        sent_before = Counter(t for t, _, _ in _sent(slow_emu))
        if sig != "SIGKILL":
            assert "stopped by" in (d / "stderr.log").read_text()
            # a clean stop waited for the requests in flight: every line sent has its answer on disk
            assert set(sent_before) == on_disk
        resumed = _convo(d, env, "--concurrency", str(self.CONCURRENCY), "--resume")
        assert resumed.wait(timeout=120) == 0, (d / "stderr.log").read_text()[-2000:]
        sent_after = Counter(t for t, _, _ in _sent(slow_emu)) - sent_before
        again = set(sent_after) & set(sent_before)
        assert again.isdisjoint(on_disk), sorted(again & on_disk)
        assert len(again) <= (self.CONCURRENCY if sig == "SIGKILL" else 0)
        recs = records(out)
        assert [r["id"] for r in recs] == [f"in.jsonl:{i + 1}" for i in good]
        assert all(r["response"]["content"][0]["text"] == "ok" for r in recs)
        rej = records(d / "out.rejects.jsonl")
        assert [r["line"] for r in rej] == [i + 1 for i in range(self.LINES) if i % 10 == 9]
        assert len(recs) + len(rej) == self.LINES
        assert not Path(job_dir_for(out)).exists()
        assert [p.name for p in d.iterdir() if p.name.endswith(".tmp")] == []

    def test_finished_answers_survive_a_kill(self, slow_emu: Emulator, tmp_path: Path) -> None:
        """One slow line holds up the writing of every answer after it; a SIGKILL then loses none
        of those answers: the resumed run sends only what was in flight."""
        release = threading.Event()

        def answer(conv: m.Conversation) -> str:
            if text_of(conv) == "item 0":
                release.wait(30)
            return "ok"

        slow_emu.handler = answer
        d = tmp_path
        write_input(d / "in.jsonl", 40)
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": str(slow_emu.base_url)}
        proc = _convo(d, env, "--concurrency", "4")
        journal = Path(job_dir_for(d / "out.jsonl")) / "journal.jsonl"
        try:
            _wait(lambda: journal.exists() and journal.read_bytes().count(b"\n") >= 12, proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            release.set()
        assert records(d / "out.jsonl") == []  # nothing could be written in order yet
        on_disk = _answered_on_disk(d, d / "out.jsonl")
        assert len(on_disk) >= 12
        before = Counter(t for t, _, _ in _sent(slow_emu))
        assert _convo(d, env, "--concurrency", "4", "--resume").wait(timeout=60) == 0
        after = Counter(t for t, _, _ in _sent(slow_emu)) - before
        assert set(after).isdisjoint(on_disk)
        assert sum(after.values()) == 40 - len(on_disk)
        assert len(records(d / "out.jsonl")) == 40


class TestRetryErrors:
    def test_retry_replaces_error_records_in_place(self, tmp_path: Path) -> None:
        """--retry-errors sends the failed lines again and their new records take the old ones'
        places: the output stays in input order."""
        from convo.errors import OverloadedError

        src, out = write_input(tmp_path / "in.jsonl", 8), tmp_path / "out.jsonl"

        def flaky(c: m.Conversation) -> str:
            if text_of(c) in ("item 2", "item 5"):
                raise OverloadedError("busy", status=529)
            return "first"

        run_file(src, out, executor=MockExecutor(flaky))
        assert ["error" in r for r in records(out)] == [i in (2, 5) for i in range(8)]
        again = Stopper()
        s = run_file(src, out, executor=again, resume=True, retry_errors=True)
        assert sorted(again.sent) == ["item 2", "item 5"]
        assert (s.succeeded, s.skipped, s.failures) == (2, 6, 0)
        recs = records(out)
        assert [r["id"] for r in recs] == [f"{src}:{i}" for i in range(1, 9)]
        assert all("response" in r for r in recs)
        assert not Path(job_dir_for(out)).exists()

    def test_an_interrupted_retry_keeps_its_answers(self, tmp_path: Path) -> None:
        """A retry interrupted after some answers came back keeps them for the next run."""
        from convo.errors import OverloadedError

        src, out = write_input(tmp_path / "in.jsonl", 8), tmp_path / "out.jsonl"
        run_file(src, out, executor=MockExecutor(
            lambda c: (_ for _ in ()).throw(OverloadedError("busy", status=529))))
        first = interrupted(src, out, 3, resume=True, retry_errors=True, concurrency=1)
        assert len(first.sent) == 3
        rest = Stopper()
        run_file(src, out, executor=rest, resume=True, retry_errors=True)
        assert sorted(first.sent + rest.sent) == sorted(f"item {i}" for i in range(8))
        assert all("response" in r for r in records(out)) and len(records(out)) == 8


class TestJournal:
    def test_answers_that_came_before_a_mark_are_found(self, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """Answers for lines past a mark that arrived before the mark was written (answers come
        out of order) are found on resume: the mark says where the oldest unwritten one is."""
        import convo.jobs.run as run_module

        monkeypatch.setattr(run_module, "_MARK_EVERY", 1)
        src, out = write_input(tmp_path / "in.jsonl", 30), tmp_path / "out.jsonl"
        later_done = threading.Event()
        answered: list[str] = []
        lock = threading.Lock()

        class Held(MockExecutor):
            def execute(self, conversation: m.Conversation) -> m.Response:
                text = text_of(conversation)
                if text in ("item 0", "item 1"):  # held until every later line in the window answered
                    assert later_done.wait(10)
                    if text == "item 1":
                        raise KeyboardInterrupt  # the run stops here, as Ctrl-C would
                resp = super().execute(conversation)
                with lock:
                    answered.append(text)
                    if len(answered) == 14:  # items 2 to 15: the window of concurrency 4
                        later_done.set()
                return resp

        with pytest.raises(KeyboardInterrupt):
            run_file(src, out, executor=Held(lambda c: "ok"), concurrency=4)
        assert [r["id"] for r in records(out)] == [f"{src}:1"]
        journal = Path(job_dir_for(out)) / "journal.jsonl"
        heads = [h for _, h in run_module._journal_lines(str(journal))]
        marks = [i for i, h in enumerate(heads) if "mark" in h]
        assert marks and any("at" in h and h["at"][1] > 2 for h in heads[:marks[-1]])
        rest = Stopper()
        run_file(src, out, executor=rest, resume=True)
        assert "item 1" in rest.sent and not set(rest.sent) & set(answered)
        assert len(rest.sent) == 30 - len(answered)
        assert [r["id"] for r in records(out)] == [f"{src}:{i}" for i in range(1, 31)]


class TestState:
    def test_a_second_process_is_refused(self, tmp_path: Path) -> None:
        """Two runs into one output at once: the second is refused while the first holds the lock."""
        src, out = write_input(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
        code = ("import sys, time; from convo.jobs._state import JobLock;"
                "l = JobLock(sys.argv[1]); assert l.try_lock(); print('locked', flush=True); time.sleep(30)")
        holder = subprocess.Popen([sys.executable, "-c", code, os.path.join(job_dir_for(out), "lock")],
                                  stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
            with pytest.raises(ConvoError, match="another process is running into"):
                run_file(src, out, executor=Stopper())
        finally:
            holder.kill()
            holder.wait()
        run_file(src, out, executor=Stopper())  # the lock went with the process
        assert len(records(out)) == 3

    def test_no_state_left_when_an_input_is_missing(self, tmp_path: Path) -> None:
        """A run that cannot start leaves no state folder behind."""
        with pytest.raises(OSError):
            run_file(tmp_path / "nope.jsonl", tmp_path / "out.jsonl", executor=Stopper())
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_a_torn_record_is_cut_and_its_line_runs_again(self, tmp_path: Path) -> None:
        """A record half written by a kill is cut off; with a journal that holds its answer,
        nothing is sent again."""
        src, out = write_input(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
        interrupted(src, out, 4, concurrency=1)
        data = out.read_bytes()
        out.write_bytes(data[:-30])
        ex = Stopper()
        run_file(src, out, executor=ex, resume=True)
        assert ex.sent == ["item 4", "item 5"]  # item 3's answer came from the journal
        assert [r["id"] for r in records(out)] == [f"{src}:{i}" for i in range(1, 7)]
