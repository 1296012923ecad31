"""``convo convert``: every format the codec knows, loss summaries, and no line lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

import convo
from convo import Conversation
from convo.cli import main
from convo.codec.formats import FORMATS
from convo.stream.convert import batch_id
from tests._helpers_cli import REALWORLD, TRANSCRIPTS, read_rejects


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


class TestLineFormats:
    def test_openai_finetune_to_anthropic(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """OpenAI fine-tuning lines become requests, with --model/--max-tokens filled in."""
        src = REALWORLD / "openai-chat" / "toy_chat_fine_tuning.jsonl"
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", src, "--from", "openai-finetune", "--to", "anthropic",
                        "--model", "claude-opus-4-8", "--max-tokens", "1024", "-o", out)
        assert code == 0
        convs = [convo.loads(x) for x in out.read_bytes().splitlines()]
        assert len(convs) == 5
        assert all(c.model == "claude-opus-4-8" and c.max_tokens == 1024 for c in convs)
        originals = [orjson.loads(x) for x in src.read_bytes().splitlines()]
        for conv, orig in zip(convs, originals, strict=True):
            want = FORMATS["openai-finetune"].read(orig).conversation
            assert conv.messages == want.messages
            assert conv.system == want.system
        assert "5 lines in = 5 out + 0 rejected" in err

    def test_sharegpt_json_arrays_and_loss_summary(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """A directory of ShareGPT JSON-array files converts in order; losses are summarised."""
        src = REALWORLD / "sharegpt"
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", src, "--from", "sharegpt", "--to", "openai", "-o", out)
        assert code == 0
        total = sum(len(orjson.loads(p.read_bytes())) for p in sorted(src.glob("*.json")))
        assert len(out.read_bytes().splitlines()) == total
        assert f"{total} lines in = {total} out + 0 rejected" in err
        assert "lost or changed:" in err
        assert "read $.images[*]:" in err

    def test_gzipped_json_array_without_a_gz_name(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """A gzip file holding a JSON array is told by its bytes, not its name, like any input."""
        import gzip

        orig = sorted((REALWORLD / "sharegpt").glob("*.json"))[0]
        src = tmp_path / "records.json"
        src.write_bytes(gzip.compress(orig.read_bytes()))
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", src, "--from", "sharegpt", "--to", "openai", "-o", out)
        total = len(orjson.loads(orig.read_bytes()))
        assert code == 0, err
        assert len(out.read_bytes().splitlines()) == total
        assert f"{total} lines in = {total} out + 0 rejected" in err

    def test_round_trip_through_anthropic(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """hh -> anthropic -> hh gives back the chosen conversations."""
        src = REALWORLD / "hh-rlhf" / "harmless-base-test.sample.jsonl"
        mid, back = tmp_path / "mid.jsonl", tmp_path / "back.jsonl"
        run(capsys, "convert", src, "--from", "hh", "--to", "anthropic", "-o", mid)
        run(capsys, "convert", mid, "--from", "anthropic", "--to", "hh", "-o", back)
        originals = [orjson.loads(x)["chosen"] for x in src.read_bytes().splitlines()]
        got = [orjson.loads(x)["chosen"] for x in back.read_bytes().splitlines()]
        assert got == originals

    def test_bad_lines_are_rejected_with_their_bytes(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """Invalid JSON and records the format cannot read go to the rejects; the rest converts."""
        good = b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'
        lines = [good, b"{not json", b'{"messages": "nope"}', good]
        src = tmp_path / "in.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", src, "--from", "openai-finetune", "--to", "anthropic", "-o", out)
        assert code == 0
        assert len(out.read_bytes().splitlines()) == 2
        rejects = read_rejects(tmp_path / "out.rejects.jsonl")
        assert [(r["line"], r["code"], r["bytes"]) for r in rejects] == [
            (2, "json", lines[1]), (3, "format", lines[2])]
        assert rejects[1]["path"].startswith("$.messages")
        assert "4 lines in = 2 out + 2 rejected" in err

    def test_batch_envelope_both_ways(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--to batch wraps requests with valid, unique custom_ids; --from batch unwraps them."""
        batch, back = tmp_path / "batch.jsonl", tmp_path / "back.jsonl"
        run(capsys, "convert", TRANSCRIPTS, "--from", "anthropic", "--to", "batch", "-o", batch)
        lines = [orjson.loads(x) for x in batch.read_bytes().splitlines()]
        ids = [x["custom_id"] for x in lines]
        assert len(ids) == len(set(ids)) == 195
        assert ids[0] == "transcripts-1"
        run(capsys, "convert", batch, "--from", "batch", "--to", "anthropic", "-o", back)
        want = []
        for x in TRANSCRIPTS.read_bytes().splitlines():
            try:
                want.append(convo.dumps(convo.loads(x)))
            except convo.DecodeError:
                continue
        assert back.read_bytes().splitlines() == want

    def test_exchange_in_appends_the_response(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--from exchange reads the request with the response as the assistant's last turn."""
        req = orjson.loads(convo.dumps(Conversation(model="m", max_tokens=8).user("Hi")))
        resp = {"id": "msg", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hello"}]}
        src = tmp_path / "ex.jsonl"
        src.write_bytes(orjson.dumps({"id": 1, "request": req, "response": resp}) + b"\n")
        out = tmp_path / "out.jsonl"
        run(capsys, "convert", src, "--from", "exchange", "--to", "openai", "-o", out)
        (line,) = out.read_bytes().splitlines()
        msgs = orjson.loads(line)["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"]
        assert "Hello" in orjson.dumps(msgs[1]).decode()

    def test_anthropic_is_lossless(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """anthropic -> anthropic keeps every request as convo's codec writes it (huge ints too)."""
        big = b'{"model":"m","max_tokens":8,"metadata":{"n":123456789012345678901234567890},"messages":[]}'
        src = tmp_path / "in.jsonl"
        src.write_bytes(big + b"\n")
        out = tmp_path / "out.jsonl"
        run(capsys, "convert", src, "--from", "anthropic", "--to", "anthropic", "-o", out)
        # the standard library keeps the integer exact (orjson would make it a float)
        assert json.loads(out.read_bytes()) == json.loads(big)
        assert b"123456789012345678901234567890" in out.read_bytes()

    def test_batch_ids_are_valid(self) -> None:
        """custom_ids match the API's pattern, whatever the file name."""
        import re

        for name in ("a b/c d.jsonl.gz", "é" * 80 + ".jsonl", "-"):
            cid = batch_id(name, 123456)
            assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", cid), cid


class TestWholeFileFormats:
    @pytest.mark.parametrize("name", ["log_formats.eval", "log_tool_call_error.json", "log_images_tc.json"])
    def test_inspect_logs(self, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
        """An inspect_ai log gives one request per sample, as the format's reader reads it."""
        src = REALWORLD / "inspect-ai" / name
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", src, "--from", "inspect", "--to", "anthropic", "-o", out)
        assert code == 0
        want = [c.conversation for c in FORMATS["inspect"].read_file(src)]
        got = [convo.loads(x) for x in out.read_bytes().splitlines()]
        assert got == want
        assert f"{len(want)} lines in = {len(want)} out + 0 rejected" in err

    def test_claude_code_sessions(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """Claude Code session files convert, one conversation per session."""
        src = REALWORLD / "claude-code-jsonl"
        out = tmp_path / "out.jsonl"
        code, _ = run(capsys, "convert", src, "--from", "claude-code", "--to", "anthropic", "-o", out)
        assert code == 0
        want = [c.conversation for p in sorted(src.glob("*.jsonl")) for c in FORMATS["claude-code"].read_file(p)]
        assert [convo.loads(x) for x in out.read_bytes().splitlines()] == want

    def test_an_unreadable_file_is_one_reject(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """A log that cannot be read is named in the rejects; the other files still convert."""
        bad = tmp_path / "a-broken.json"
        bad.write_bytes(b'{"version": 2, "samples": "nope"')
        good = REALWORLD / "inspect-ai" / "log_formats.json"
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", bad, good, "--from", "inspect", "--to", "anthropic", "-o", out)
        assert code == 0
        (rec,) = read_rejects_raw(tmp_path / "out.rejects.jsonl")
        assert (rec["file"], rec["code"]) == (str(bad), "format")
        assert len(out.read_bytes().splitlines()) == len(list(FORMATS["inspect"].read_file(good)))
        assert "1 rejected" in err


def read_rejects_raw(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


class TestUsage:
    def test_unknown_format(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown format exits 2 and lists the known ones."""
        code, err = run(capsys, "convert", TRANSCRIPTS, "--from", "nope", "--to", "anthropic")
        assert code == 2
        assert "sharegpt" in err and "batch" in err

    def test_read_only_format_as_output(self, capsys: pytest.CaptureFixture[str]) -> None:
        """inspect can only be read."""
        code, err = run(capsys, "convert", TRANSCRIPTS, "--from", "anthropic", "--to", "inspect")
        assert code == 2
        assert "can only be read" in err
