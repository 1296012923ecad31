"""Tests for convo.jobs._state: the state file, the lock, input identity and the journal that
``run_file`` and the batch job share."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convo.errors import ConvoError
from convo.jobs._state import (
    HEAD_BYTES,
    JobLock,
    Journal,
    cut_torn_tail,
    identify,
    identity_problem,
    load_state,
    save_state,
)


class TestStateFile:
    def test_round_trip_and_checks(self, tmp_path: Path) -> None:
        """A saved state loads back; another format, version or a non-object is refused by name."""
        p = str(tmp_path / "s.json")
        save_state(p, {"format": "convo-run-state", "version": 1, "inputs": []})
        assert load_state(p, "convo-run-state", 1)["inputs"] == []
        with pytest.raises(ConvoError, match="is not a convo batch state file"):
            load_state(p, "convo-batch-state", 1)
        with pytest.raises(ConvoError, match="state version 1 is not supported"):
            load_state(p, "convo-run-state", 2)
        Path(p).write_text("{not json")
        with pytest.raises(ConvoError, match="cannot read the state file"):
            load_state(p, "convo-run-state", 1)

    def test_atomic_replace_leaves_no_temp(self, tmp_path: Path) -> None:
        """Saving replaces the file whole; no temporary file stays beside it."""
        p = str(tmp_path / "s.json")
        for n in range(5):
            save_state(p, {"format": "f", "version": 1, "n": n})
        assert sorted(os.listdir(tmp_path)) == ["s.json"] and load_state(p, "f", 1)["n"] == 4


class TestLock:
    def test_exclusive_across_processes_and_released_by_death(self, tmp_path: Path) -> None:
        """Another process holding the lock keeps it from us; killed, it holds nothing."""
        path = str(tmp_path / "d" / "lock")
        code = ("import sys, time; from convo.jobs._state import JobLock; l = JobLock(sys.argv[1]);"
                "print(l.try_lock(), flush=True); time.sleep(60)")
        holder = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"True\n"
            mine = JobLock(path)
            assert not mine.try_lock()
            with pytest.raises(ConvoError, match="busy"):
                mine.lock("busy")
        finally:
            holder.kill()
            holder.wait()
        assert mine.try_lock() and mine.held
        mine.unlock()
        assert not mine.held


class TestIdentity:
    def test_same_file_by_any_path(self, tmp_path: Path) -> None:
        """A hard link, a symlink and another spelling are the same file; a copy is too (same
        size and head), unless the copy differs."""
        src = tmp_path / "a.jsonl"
        src.write_bytes(b'{"a": 1}\n' * 100)
        rec = identify(str(src))
        os.link(src, tmp_path / "hard.jsonl")
        (tmp_path / "soft.jsonl").symlink_to(src)
        shutil.copy(src, tmp_path / "copy.jsonl")
        for other in ("hard.jsonl", "soft.jsonl", "./a.jsonl", "copy.jsonl"):
            assert identity_problem(rec, str(tmp_path / other)) is None, other
        (tmp_path / "copy.jsonl").write_bytes(b'{"b": 1}\n' + b'{"a": 1}\n' * 99)
        assert identity_problem(rec, str(tmp_path / "copy.jsonl")) == "its first bytes differ"
        assert "cannot be read" in str(identity_problem(rec, str(tmp_path / "gone.jsonl")))

    def test_a_change_past_the_head_is_caught_by_mtime_or_size(self, tmp_path: Path) -> None:
        """An edit beyond the hashed head: a new size is caught; a same-size edit of the same
        file changes its mtime, and then only the head decides (the batch job checks more)."""
        src = tmp_path / "a.jsonl"
        src.write_bytes(b"x" * (HEAD_BYTES + 10) + b"\n")
        rec = identify(str(src))
        src.write_bytes(b"x" * (HEAD_BYTES + 11) + b"\n")
        assert "bytes, not the" in str(identity_problem(rec, str(src)))

    def test_older_records_compare_what_they_have(self, tmp_path: Path) -> None:
        """A state file from before identities (size and mtime only) is still checked by size."""
        src = tmp_path / "a.jsonl"
        src.write_bytes(b"{}\n")
        old = {"size": 3, "mtime_ns": src.stat().st_mtime_ns}
        assert identity_problem(old, str(src)) is None
        assert identity_problem({"size": 4}, str(src)) is not None


class TestJournal:
    def test_torn_tail_is_cut_on_open(self, tmp_path: Path) -> None:
        """A line a kill left half written is gone when the journal is opened again."""
        p = str(tmp_path / "j.jsonl")
        with Journal(p) as j:
            j.append({"n": 1})
        with open(p, "ab") as f:
            f.write(b'{"n": 2')
        with Journal(p) as j:
            assert j.size == len(b'{"n":1}\n')
            j.append({"n": 3})
        assert [e["n"] for _, e in Journal.read(p)] == [1, 3]

    def test_threads_never_interleave(self, tmp_path: Path) -> None:
        """Lines appended from many threads at once arrive whole, each once, at the offsets given."""
        p = str(tmp_path / "j.jsonl")
        offsets: dict[int, int] = {}
        with Journal(p, every=7) as j:
            def work(t: int) -> None:
                for i in range(200):
                    offsets[t * 1000 + i] = j.append({"t": t, "i": i, "pad": "x" * (i % 50)})
            threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        entries = {e["t"] * 1000 + e["i"]: off for off, e in Journal.read(p)}
        assert entries == offsets and len(entries) == 1600
        assert Journal.read_at(p, offsets[3007]) == {"t": 3, "i": 7, "pad": "x" * 7}

    def test_truncate_to_a_recorded_size(self, tmp_path: Path) -> None:
        """truncate() cuts back to what a recorded step covered (the batch job's rejects)."""
        p = str(tmp_path / "j.jsonl")
        with Journal(p) as j:
            j.append(b"one")
            size = j.size
            j.append(b"two")
            j.truncate(size)
            j.append(b"three")
        assert Path(p).read_bytes() == b"one\nthree\n"

    def test_a_damaged_line_is_named(self, tmp_path: Path) -> None:
        """A complete line that is not JSON: ConvoError naming the journal and the byte."""
        p = tmp_path / "j.jsonl"
        p.write_bytes(b'{"a":1}\nnot json\n')
        with pytest.raises(ConvoError, match="byte 8 is not a journal entry"):
            list(Journal.read(str(p)))

    @given(st.lists(st.binary(max_size=30).filter(lambda b: b"\n" not in b), max_size=10),
           st.binary(max_size=40).filter(lambda b: b"\n" not in b))
    def test_property_cut_keeps_exactly_the_complete_lines(self, lines: list[bytes], torn: bytes) -> None:
        """Whatever the file holds, cutting leaves exactly its complete lines."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "f")
            whole = b"".join(x + b"\n" for x in lines)
            Path(p).write_bytes(whole + torn)
            assert cut_torn_tail(p) == len(whole)
            assert Path(p).read_bytes() == whole

    def test_cut_reads_from_the_end_only(self, tmp_path: Path) -> None:
        """A long file with a short torn tail is cut correctly (the search goes back in blocks)."""
        p = tmp_path / "big"
        body = b"".join(orjson.dumps({"i": i}) + b"\n" for i in range(50_000))
        p.write_bytes(body + b"x" * 200_000)  # a torn tail longer than one block
        assert cut_torn_tail(str(p)) == len(body)
        assert cut_torn_tail(str(tmp_path / "none")) == 0
