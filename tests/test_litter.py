"""No temporary file or process outlives a run, and a bad ``-o`` creates nothing (issue 11,
items 11 to 13).

The commands run as real processes; a command reading a pipe that the test keeps open is
mid-work for as long as the test likes, so each signal lands at a known point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from convo.codec.jsonl import OutputPathError, check_output_path, sweep_stale_temps, temp_beside

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL") or not os.path.isdir("/proc"),
                                reason="needs POSIX signals and /proc")

MODEL = "claude-opus-4-8"
LINE = orjson.dumps({"model": MODEL, "max_tokens": 64, "messages": [
    {"role": "user", "content": "Hello " * 40}, {"role": "assistant", "content": "Hi"},
    {"role": "user", "content": "More"}]}) + b"\n"


def temps(d: Path) -> list[str]:
    """convo's temporary files in *d* (``.NAME.xxxxxxxx.tmp``)."""
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


def wait_for(cond: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def transform_from_pipe(d: Path, *extra: str) -> subprocess.Popen[bytes]:
    """``convo transform - -o out.jsonl`` fed by the test through a pipe it keeps open."""
    return subprocess.Popen(
        [sys.executable, "-m", "convo.cli", "transform", "-", "-t", "drop_images()", "-o", "out.jsonl",
         "-q", *extra], cwd=d, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class TestSignals:
    @pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
    def test_a_signal_stops_cleanly(self, sig: str, tmp_path: Path) -> None:
        """SIGTERM and SIGHUP stop a command as Ctrl-C does: the temporary output and rejects
        files are removed, the status is 128 + the signal, the reason is said."""
        proc = transform_from_pipe(tmp_path)
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(LINE * 2000 + b"not json\n")
        proc.stdin.flush()
        wait_for(lambda: len(temps(tmp_path)) >= 1)
        signum = getattr(signal, sig)
        proc.send_signal(signum)
        try:
            rc = proc.wait(timeout=30)  # it stopped reading the pipe at once
        finally:
            proc.kill()
        err = proc.stderr.read().decode()
        assert rc == (130 if sig == "SIGINT" else 128 + signum), err
        assert ("interrupted" if sig == "SIGINT" else f"stopped by {sig}") in err
        assert "Traceback" not in err
        assert temps(tmp_path) == [] and not (tmp_path / "out.jsonl").exists()
        proc.stdin.close()

    def test_an_ignored_sighup_stays_ignored(self, tmp_path: Path) -> None:
        """Under nohup (SIGHUP ignored) the command is not stopped by SIGHUP."""
        proc = subprocess.Popen(
            ["nohup", sys.executable, "-m", "convo.cli", "transform", "-", "-t", "drop_images()",
             "-o", "out.jsonl", "-q"], cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        assert proc.stdin is not None
        proc.stdin.write(LINE * 10)
        proc.stdin.flush()
        wait_for(lambda: len(temps(tmp_path)) >= 1)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        assert (tmp_path / "out.jsonl").read_bytes().count(b"\n") == 10 and temps(tmp_path) == []


class TestStaleTemps:
    def test_kills_leave_nothing_once_a_run_succeeds(self, tmp_path: Path) -> None:
        """A SIGKILL leaves its temporary files (nothing can run at a SIGKILL), but each new run
        of the same output removes those of the run before: after ten kills only the last one's
        are there (they piled up: 20 files after 10 kills), and a run that ends removes them."""
        for _ in range(10):
            proc = transform_from_pipe(tmp_path)
            assert proc.stdin is not None
            proc.stdin.write(LINE * 500 + b"oops\n")
            proc.stdin.flush()
            wait_for(lambda: len(temps(tmp_path)) >= 1)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdin.close()
        # the last kill's only: the output's, and the rejects file's if it got to the first reject
        # (the rejects file is made then)
        assert 1 <= len(temps(tmp_path)) <= 2, temps(tmp_path)
        (tmp_path / "in.jsonl").write_bytes(LINE * 3)
        r = subprocess.run([sys.executable, "-m", "convo.cli", "transform", "in.jsonl", "-t", "drop_images()",
                            "-o", "out.jsonl", "-q"], cwd=tmp_path, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        assert temps(tmp_path) == []
        # no reject in the last run: no rejects file (it is made at the first reject)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]

    def test_only_dead_writers_files_of_the_same_output_go(self, tmp_path: Path) -> None:
        """A live writer's temporary file stays (it holds a lock on it); so do files of other
        outputs and files not named as convo names them."""
        target = tmp_path / "out.jsonl"
        live_tmp, live = temp_beside(str(target))
        keep = [".out.jsonl.notes.tmp", ".out.jsonl.abcdefghi.tmp", "out.jsonl.abcdefgh.tmp",
                ".other.jsonl.abcdefgh.tmp", ".out.jsonl.abcdefgh.tmp.bak", ".out.jsonl.ABCDEFGH.tmp"]
        for name in keep:
            (tmp_path / name).write_text("someone's")
        dead = tmp_path / ".out.jsonl.k3x9_2ab.tmp"
        dead.write_text("half an output")
        removed = sweep_stale_temps(str(target))
        assert removed == [str(dead)]
        assert os.path.exists(live_tmp)
        assert all((tmp_path / n).exists() for n in keep)
        live.close()
        os.unlink(live_tmp)

    def test_a_symlink_named_like_a_temp_is_not_followed(self, tmp_path: Path) -> None:
        """A link named like a temporary file is not opened through (O_NOFOLLOW), so its target stays."""
        victim = tmp_path / "precious.txt"
        victim.write_text("keep me")
        (tmp_path / ".out.jsonl.abcdefgh.tmp").symlink_to(victim)
        sweep_stale_temps(str(tmp_path / "out.jsonl"))
        assert victim.read_text() == "keep me"


class TestWorkersDieWithTheirParent:
    def test_streaming_workers(self, tmp_path: Path) -> None:
        """``--workers 2`` killed with SIGKILL: both workers end within seconds and the caller's
        stderr pipe closes (they lived on, blocked, holding it, 12 minutes later)."""
        proc = transform_from_pipe(tmp_path, "--workers", "2", "--chunk-bytes", "65536")
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(LINE * 3000)
        proc.stdin.flush()
        wait_for(lambda: len(children_of(proc.pid)) >= 2)
        workers = children_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: not any(alive(w) for w in workers), timeout=10)
        proc.stdin.close()
        import select

        # EOF only once every holder of the pipe has gone (the workers held it open)
        assert select.select([proc.stderr], [], [], 10)[0], "the stderr pipe is still held open"
        assert proc.stderr.read() == b""

    def test_range_mode_workers(self, tmp_path: Path) -> None:
        """Range mode (a plain file, workers appending to the output themselves): killed, its
        workers stop writing into the dead run's temporary file and end; the next run removes it."""
        src = tmp_path / "in.jsonl"
        src.write_bytes(LINE * 200_000)  # about 70 MB: long enough to be mid-work
        proc = subprocess.Popen(
            [sys.executable, "-m", "convo.cli", "transform", "in.jsonl", "-t", "drop_images()", "-o", "out.jsonl",
             "-q", "--workers", "2"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: len(children_of(proc.pid)) >= 2 and any(
            (tmp_path / t).stat().st_size > 0 for t in temps(tmp_path)), timeout=60)
        workers = children_of(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_for(lambda: not any(alive(w) for w in workers), timeout=10)
        sizes = {t: (tmp_path / t).stat().st_size for t in temps(tmp_path)}
        time.sleep(0.5)
        assert {t: (tmp_path / t).stat().st_size for t in temps(tmp_path)} == sizes  # nobody writes
        assert proc.stderr is not None
        import select

        assert select.select([proc.stderr], [], [], 10)[0], "the stderr pipe is still held open"
        src.write_bytes(LINE)
        subprocess.run([sys.executable, "-m", "convo.cli", "transform", "in.jsonl", "-t", "drop_images()",
                        "-o", "out.jsonl", "-q"], cwd=tmp_path, check=True, timeout=60)
        assert temps(tmp_path) == []


class TestBadOutputPaths:
    @pytest.mark.parametrize("cmd", [
        ["transform", "in.jsonl", "-t", "drop_images()"],
        ["convert", "in.jsonl", "--from", "anthropic", "--to", "anthropic"],
        ["fixtures", "--count", "2", "--seed", "1"],
        ["run", "in.jsonl"],
    ])
    def test_an_existing_directory(self, cmd: list[str], tmp_path: Path) -> None:
        """-o naming a directory: bad usage naming it, before any file is made (it left a
        temporary file and a rejects file while saying "no output was written")."""
        (tmp_path / "in.jsonl").write_bytes(LINE)
        (tmp_path / "outdir").mkdir()
        r = subprocess.run([sys.executable, "-m", "convo.cli", *cmd, "-o", "outdir"], cwd=tmp_path,
                           capture_output=True, timeout=60,
                           env={**os.environ, "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert "cannot write outdir: it is a directory" in err and ".tmp" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "outdir"]
        assert list((tmp_path / "outdir").iterdir()) == []

    @pytest.mark.parametrize("cmd", [["transform", "in.jsonl", "-t", "drop_images()"], ["run", "in.jsonl"]])
    def test_a_missing_directory(self, cmd: list[str], tmp_path: Path) -> None:
        """An output in a directory that does not exist: the message names the path given."""
        (tmp_path / "in.jsonl").write_bytes(LINE)
        r = subprocess.run([sys.executable, "-m", "convo.cli", *cmd, "-o", "no/such/out.jsonl"], cwd=tmp_path,
                           capture_output=True, timeout=60,
                           env={**os.environ, "ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert "cannot write no/such/out.jsonl: no such directory no/such" in err and ".tmp" not in err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]

    def test_the_library_check(self, tmp_path: Path) -> None:
        """check_output_path: a directory, a missing parent, a file as parent; stdout passes."""
        check_output_path("-")
        check_output_path(str(tmp_path / "fine.jsonl"))
        (tmp_path / "f").write_text("")
        for path, why in ((tmp_path, "it is a directory"), (tmp_path / "a" / "b.jsonl", "no such directory"),
                          (tmp_path / "f" / "b.jsonl", "not a directory")):
            with pytest.raises(OutputPathError, match=why):
                check_output_path(str(path))
        assert issubclass(OutputPathError, OSError)
