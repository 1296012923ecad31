"""Kill-and-resume tests of ``convo batch``: real processes, SIGKILL, the emulator over real sockets.

The emulator runs in this process (its log is the witness); each step is a ``convo`` process
that is killed with SIGKILL at a random point and then run again with the same state file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from convo.testing import Emulator

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")




from tests import _helpers_batch as H  # noqa: E402 - after the imports it needs

BATCH_DELAY = 1.5
SEED = int(os.environ.get("CONVO_KILL_SEED", str(random.SystemRandom().randrange(10**6))))
POLL = ["--poll-interval", "0.1", "--max-poll-interval", "0.25", "-q"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    e = Emulator(batch_delay=BATCH_DELAY, api_keys=[H.KEY])
    e.start()
    try:
        yield e
    finally:
        e.stop()


def conversations(n: int, start: int) -> Iterator[dict[str, Any]]:
    """Varied valid requests: system prompts, several turns, block content, two models."""
    for i in range(start, start + n):
        text = f"conversation {i}: what is {i} squared?"
        kind = i % 4
        if kind == 0:
            yield H.request(text, system=f"You are assistant number {i}.")
        elif kind == 1:
            yield H.request(text, messages=[
                {"role": "user", "content": f"hello from {i}"},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": text}])
        elif kind == 2:
            yield H.request(text, model="claude-opus-4-8", max_tokens=64)
        else:
            yield H.request(text, messages=[{"role": "user", "content": [
                {"type": "text", "text": text}]}], metadata={"user_id": f"u{i}"})


def cli(args: list[str], emu: Emulator, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ANTHROPIC_API_KEY": H.KEY, "ANTHROPIC_BASE_URL": str(emu.base_url)}
    with open(cwd / "stderr.log", "ab") as err:
        return subprocess.Popen([sys.executable, "-m", "convo.cli", *args], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def finish(proc: subprocess.Popen[bytes], cwd: Path, timeout: float = 60) -> None:
    rc = proc.wait(timeout=timeout)
    assert rc == 0, (rc, (cwd / "stderr.log").read_text()[-3000:])


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], jitter: float,
              cwd: Path, timeout: float = 30) -> None:
    """SIGKILL *proc* *jitter* seconds after *ready()* turns true; it must still have been running."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, ("finished before the kill point", (cwd / "stderr.log").read_text())
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.001)
    time.sleep(jitter)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL, "the process ended before it was killed"


def results_gets(emu: Emulator) -> int:
    return sum(1 for r in emu.log if r.method == "GET" and r.path.endswith("/results"))


def state_of(cwd: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((cwd / "job.json").read_bytes())
    return data


class TestKillAndResume:
    def test_a_thousand_conversations_survive_two_kills(self, emu: Emulator, tmp_path: Path) -> None:
        """1,000 lines, killed at random during submit and during results, end as 1,000 matching records,
        with no line submitted twice and no saved result fetched twice."""
        rng = random.Random(SEED)
        a = H.write_lines(tmp_path / "a.jsonl", conversations(600, 0))
        b = H.write_lines(tmp_path / "b.jsonl", conversations(400, 600))
        # the last create and the last results download are slow, so the random kill points
        # (never after the 9th of 10) always find the process still working
        emu.faults = ("ok*9@POST /v1/messages/batches, slow:0.5@POST /v1/messages/batches, "
                      "ok*9@GET /v1/messages/batches/*/results, "
                      "slow:0.5@GET /v1/messages/batches/*/results")
        submit = ["batch", "submit", "a.jsonl", "b.jsonl", "-o", "job.json", "--max-requests", "100",
                  "--settle", "2", *POLL]

        k, jitter = rng.randint(1, 9), rng.uniform(0, 0.03)
        kill_when(cli(submit, emu, tmp_path), lambda: len(H.creates(emu)) >= k, jitter, tmp_path)
        killed_at = state_of(tmp_path)
        finish(cli(submit, emu, tmp_path), tmp_path)
        after_submit = state_of(tmp_path)
        assert after_submit["submit"]["done"] and len(after_submit["batches"]) == 10

        results = ["batch", "results", "job.json", "-o", "out.jsonl", *POLL]
        j, jitter = rng.randint(2, 9), rng.uniform(0, 0.02)
        kill_when(cli(results, emu, tmp_path), lambda: results_gets(emu) >= j, jitter, tmp_path)
        saved = {x["batch_id"] for x in state_of(tmp_path)["batches"] if x["status"] == "fetched"}
        fetched_before = H.results_fetches(emu)
        finish(cli(results, emu, tmp_path), tmp_path)

        why = f"seed {SEED}: killed after create {k} ({killed_at['batches'][-1:]}), results {j}"
        records = H.exchanges(tmp_path / "out.jsonl")
        assert len(records) == 1000, why
        H.check_matches_input(records, [("a.jsonl", a), ("b.jsonl", b)])
        assert emu.duplicate_batch_requests() == {}, why
        lines = H.submitted_lines(emu)
        assert len(lines) == 1000 and set(lines.values()) == {1}, why
        assert len(emu.batches.ids()) == 10, why
        fetched_after = H.results_fetches(emu) - fetched_before
        assert saved and not saved & set(fetched_after), why  # saved results were not fetched again
        assert not (tmp_path / "out.rejects.jsonl").read_bytes()

    def test_killed_while_the_server_makes_the_batch(self, emu: Emulator, tmp_path: Path) -> None:
        """Killed during a create the server completes after the client died: the resumed process
        waits for the batch to appear, adopts it once its results prove it, and sends nothing twice."""
        src = H.write_lines(tmp_path / "in.jsonl", conversations(30, 0))
        emu.faults = "ok*1@POST /v1/messages/batches, slow:1.0@POST /v1/messages/batches"
        submit = ["batch", "submit", "in.jsonl", "-o", "job.json", "--max-requests", "10",
                  "--settle", "4", *POLL]
        kill_when(cli(submit, emu, tmp_path), lambda: len(H.creates(emu)) >= 2, 0.05, tmp_path)
        assert len(emu.batches.ids()) == 1  # the second is still being made by the server
        killed = state_of(tmp_path)
        assert [x["status"] for x in killed["batches"]] == ["submitted", "submitting"]
        finish(cli(submit, emu, tmp_path), tmp_path)
        resumed = state_of(tmp_path)
        assert [x["status"] for x in resumed["batches"]] == ["submitted", "uncertain", "submitted"]
        assert resumed["batches"][1]["candidates"] == [emu.batches.ids()[1]]
        finish(cli(["batch", "results", "job.json", "-o", "out.jsonl", *POLL], emu, tmp_path), tmp_path)
        H.check_matches_input(H.exchanges(tmp_path / "out.jsonl"), [("in.jsonl", src)])
        assert emu.duplicate_batch_requests() == {} and len(emu.batches.ids()) == 3
        assert state_of(tmp_path)["batches"][1]["batch_id"] == emu.batches.ids()[1]
