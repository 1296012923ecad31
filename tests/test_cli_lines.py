"""Never losing a line: realworld transcripts and corrupted copies through ``convo transform``.

Every test checks the counts (in = out + rejected) and the contents: each output line is what
the library's own functions make of that input line (the oracle in ``_helpers_cli``), and each
reject carries the true file, line number, reason code and the exact original bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

import convo
from convo import Conversation
from convo.cli import main
from tests._helpers_cli import (
    QUICKSTART,
    TRANSCRIPTS,
    corrupted,
    oracle,
    read_rejects,
    realworld_lines,
)

CONVO = [sys.executable, "-m", "convo.cli"]


@pytest.fixture(scope="module")
def corpus() -> tuple[bytes, list]:
    """The realworld lines with broken ones mixed in, and each line's expected fate."""
    return corrupted(realworld_lines(), seed=5)


def transform(src: Path, out: Path, *extra: str, specs: tuple[str, ...] = QUICKSTART) -> int:
    args = ["transform", str(src), "-o", str(out), "-q", *extra]
    for s in specs:
        args += ["-t", s]
    return main(args)


class TestRealworldCorpus:
    @pytest.mark.parametrize(
        ("workers", "chunk"),
        [(1, None), (1, 700), (2, 4096)],
        ids=["one-process", "tiny-chunks", "two-workers"],
    )
    def test_counts_and_contents(self, corpus: tuple[bytes, list], tmp_path: Path, workers: int, chunk: int | None) -> None:
        """Good lines come out transformed, in order; every broken line is rejected with its bytes."""
        data, fates = corpus
        src = tmp_path / "corpus.jsonl"
        src.write_bytes(data)
        out = tmp_path / "out.jsonl"
        extra = ["--workers", str(workers)] + (["--chunk-bytes", str(chunk)] if chunk else [])
        assert transform(src, out, *extra) == 0
        want = oracle(data, str(src), QUICKSTART)
        got = out.read_bytes().splitlines()
        # the same JSON, line for line (a turn no transform touched keeps its keys in input order)
        assert [orjson.loads(x) for x in got] == [orjson.loads(x) for x in want.out]
        rejects = read_rejects(tmp_path / "out.rejects.jsonl")
        lines = data.split(b"\n")
        expected = {i + 1: f.code for i, f in enumerate(fates) if f.fate == "reject"}
        assert {r["line"]: r["code"] for r in rejects} == expected
        for r in rejects:
            assert r["file"] == str(src)
            assert r["bytes"] == lines[r["line"] - 1]
        non_blank = sum(1 for f in fates if f.fate != "blank")
        assert non_blank == len(got) + len(rejects)

    def test_summary_counts(self, corpus: tuple[bytes, list], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The summary states the same counts: in = out + rejected, and the blank lines skipped."""
        data, fates = corpus
        src = tmp_path / "corpus.jsonl"
        src.write_bytes(data)
        main(["transform", str(src), "-t", "drop_images()", "-o", str(tmp_path / "o.jsonl")])
        err = capsys.readouterr().err
        n_in = sum(1 for f in fates if f.fate != "blank")
        n_rej = sum(1 for f in fates if f.fate == "reject")
        n_blank = sum(1 for f in fates if f.fate == "blank")
        assert f"{n_in:,} lines in = {n_in - n_rej:,} out + {n_rej:,} rejected ({n_blank:,} blank skipped)" in err

    def test_huge_integers_come_through_exactly(self, corpus: tuple[bytes, list], tmp_path: Path) -> None:
        """An integer beyond 64 bits is written back digit for digit (not as a float)."""
        data, _ = corpus
        src = tmp_path / "corpus.jsonl"
        src.write_bytes(data)
        out = tmp_path / "out.jsonl"
        transform(src, out, specs=("drop_sampling_params()",))
        (line,) = [x for x in out.read_bytes().splitlines() if b"big numbers" in x]
        assert b'"n":123456789012345678901234567890' in line

    def test_realworld_lines_all_come_out(self, tmp_path: Path) -> None:
        """Every realworld line decodes and is transformed: nothing real is rejected."""
        lines = realworld_lines()
        src = tmp_path / "real.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        out = tmp_path / "out.jsonl"
        transform(src, out)
        assert len(out.read_bytes().splitlines()) == len(lines)
        assert not (tmp_path / "out.rejects.jsonl").exists()


class TestDamagedInput:
    def test_bom_crlf_and_no_final_newline(self, tmp_path: Path) -> None:
        """A byte order mark, CRLF endings and a last line without newline all read fine."""
        lines = [convo.dumps(Conversation(model="m", max_tokens=n).user("x")) for n in (1, 2, 3)]
        src = tmp_path / "in.jsonl"
        src.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines))
        out = tmp_path / "out.jsonl"
        transform(src, out, specs=("drop_images()",))
        assert [orjson.loads(x)["max_tokens"] for x in out.read_bytes().splitlines()] == [1, 2, 3]

    def test_truncated_gzip(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A gzip file cut short: the lines before the damage come out, the cut line is rejected,
        the summary warns and the status is 1."""
        lines = [convo.dumps(Conversation(model="m", max_tokens=n).user("x" * 200)) for n in range(1, 400)]
        whole = gzip.compress(b"\n".join(lines) + b"\n")
        src = tmp_path / "in.jsonl.gz"
        src.write_bytes(whole[: len(whole) * 2 // 3])
        out = tmp_path / "out.jsonl"
        code = main(["transform", str(src), "-t", "drop_images()", "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 1
        assert "the stream ends early (truncated)" in err
        got = out.read_bytes().splitlines()
        assert got == lines[: len(got)]
        assert len(got) > 100
        rejects = read_rejects(tmp_path / "out.rejects.jsonl")
        assert len(rejects) <= 1  # the line the damage cut in two, if it was cut mid-line
        if rejects:
            assert rejects[0]["line"] == len(got) + 1
            assert lines[len(got)].startswith(rejects[0]["bytes"])

    def test_empty_input(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An empty file gives an empty output and a zero summary."""
        src = tmp_path / "empty.jsonl"
        src.write_bytes(b"")
        out = tmp_path / "out.jsonl"
        assert main(["transform", str(src), "-t", "drop_images()", "-o", str(out)]) == 0
        assert out.read_bytes() == b""
        assert "0 lines in = 0 out + 0 rejected" in capsys.readouterr().err


def _peak_rss_mb(argv: list[str], cwd: Path) -> tuple[int, float]:
    """Run the command in a fresh wrapper process; its exit status and the command's peak RSS."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=cwd, check=True)
    status, kb = p.stdout.split()
    return int(status), int(kb) / 1024


class TestHugeLine:
    def test_a_100_mb_line(self, tmp_path: Path) -> None:
        """A 100 MB line is rejected whole (base64, exact bytes) without being held in memory,
        and the lines after it are read."""
        good = convo.dumps(Conversation(model="m", max_tokens=8).user("before"))
        after = convo.dumps(Conversation(model="m", max_tokens=9).user("after"))
        head = b'{"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "'
        huge = head + b"ab" * 50_000_000 + b'"}]}'
        src = tmp_path / "in.jsonl"
        with open(src, "wb") as f:
            for piece in (good, b"\n", huge, b"\n", after, b"\n"):
                f.write(piece)
        digest = hashlib.sha256(huge).hexdigest()
        size = len(huge)
        del huge
        status, peak = _peak_rss_mb([*CONVO, "transform", str(src), "-t", "drop_images()", "-o", "out.jsonl", "-q"], tmp_path)
        assert status == 0
        # Up to the 64 MiB limit a line is held (it might be decodable); past it, it is streamed.
        # Holding the whole line would pass 130 MB (100 MB line + ~30 MB interpreter).
        assert peak < 125, f"peak RSS {peak:.0f} MB: the line was held in memory"
        assert (tmp_path / "out.jsonl").read_bytes().splitlines() == [good, after]
        (rec,) = read_rejects(tmp_path / "out.rejects.jsonl")
        assert (rec["line"], rec["code"], rec["size"]) == (2, "too_long", size)
        assert hashlib.sha256(rec["bytes"]).hexdigest() == digest

    def test_memory_is_bounded_by_the_limit(self, tmp_path: Path) -> None:
        """With a 1 MB limit a 30 MB line costs about 1 MB of memory, not 30."""
        huge = b'"' + b"x" * 30_000_000 + b'"'
        src = tmp_path / "in.jsonl"
        ok = b'{"model": "claude-opus-4-8", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}'
        src.write_bytes(ok + b"\n" + huge + b"\n" + ok + b"\n")
        status, peak = _peak_rss_mb(
            [*CONVO, "stats", str(src), "--max-line-bytes", "1000000", "-q", "--json"], tmp_path
        )
        assert status == 0
        assert peak < 55, f"peak RSS {peak:.0f} MB"


class TestAtomicOutput:
    def _big_input(self, tmp_path: Path) -> Path:
        src = tmp_path / "big.jsonl"
        data = TRANSCRIPTS.read_bytes()
        with open(src, "wb") as f:
            for _ in range(40):
                f.write(data)
        return src

    def _start(self, src: Path, out: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*CONVO, "transform", str(src), "-t", 'migrate(model="claude-opus-4-8")', "-o", str(out),
             "-q", "--chunk-bytes", "20000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def _wait_for_temp(self, directory: Path, p: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(x.name.startswith(".out.jsonl.") for x in directory.iterdir()):
                time.sleep(0.3)  # well into the run
                return
            assert p.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.02)
        pytest.fail("no temporary output appeared")

    def test_output_permissions(self, tmp_path: Path) -> None:
        """A new output gets what open() would give it (not the temp file's 0600); a replaced
        output keeps its own mode."""
        src = tmp_path / "in.jsonl"
        src.write_bytes(convo.dumps(Conversation(model="m", max_tokens=1).user("x")) + b"\n")
        mask = os.umask(0o022)
        os.umask(mask)
        new = tmp_path / "new.jsonl"
        assert transform(src, new, specs=("drop_images()",)) == 0
        assert new.stat().st_mode & 0o777 == 0o666 & ~mask
        old = tmp_path / "old.jsonl"
        old.write_bytes(b"{}\n")
        old.chmod(0o640)
        assert transform(src, old, specs=("drop_images()",)) == 0
        assert old.stat().st_mode & 0o777 == 0o640
        assert old.read_bytes() == new.read_bytes() != b"{}\n"

    def test_killed_run_leaves_the_old_output(self, tmp_path: Path) -> None:
        """A SIGKILLed run leaves the previous output untouched (never half of a new one)."""
        src = self._big_input(tmp_path)
        out = tmp_path / "out.jsonl"
        out.write_bytes(b'{"old": true}\n')
        p = self._start(src, out)
        self._wait_for_temp(tmp_path, p)
        p.send_signal(signal.SIGKILL)
        p.communicate()  # reaps it and closes its pipes
        assert out.read_bytes() == b'{"old": true}\n'

    def test_interrupted_run_writes_nothing(self, tmp_path: Path) -> None:
        """Ctrl-C (SIGINT) stops with status 130, no output and no temporary file left."""
        src = self._big_input(tmp_path)
        out = tmp_path / "out.jsonl"
        p = self._start(src, out)
        self._wait_for_temp(tmp_path, p)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 130
        assert b"interrupted; no output was written" in err
        assert not out.exists()
        assert not (tmp_path / "out.rejects.jsonl").exists()
        assert not [x for x in os.listdir(tmp_path) if x.endswith(".tmp")]
