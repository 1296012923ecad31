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


class TestAutoDetection:
    def test_auto_is_the_default_and_the_summary_names_each_format(
            self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """Without --from, each file's format is told by its content and named in the summary:
        Claude Code sessions, a pretty-printed ShareGPT record (before: 52 lines rejected) and
        OpenAI cassettes convert together."""
        out = tmp_path / "out.jsonl"
        one = REALWORLD / "sharegpt-axolotl-llamafactory" / "axolotl__conversation.json"
        cassette = REALWORLD / "openai-live-pydantic-ai" / "openai__test_document_as_binary_content_input.json"
        session = REALWORLD / "claude-code-sessions" / "spotter__short.jsonl"
        code, err = run(capsys, "convert", one, cassette, session, "--to", "anthropic", "-o", out)
        assert code == 0
        assert "3 lines in = 3 out + 0 rejected" in err
        assert "auto -> anthropic" in err
        assert f"detected sharegpt: 1 file ({one})" in err
        assert f"detected recorded: 1 file ({cassette})" in err
        assert f"detected claude-code: 1 file ({session})" in err
        convs = [convo.loads(x) for x in out.read_bytes().splitlines()]
        assert len(convs[0].messages) == 12
        assert convs[1].messages[0].content[1].type == "document"

    def test_stdin_is_detected_line_by_line(self, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
        """From stdin each line's format is told by its content; the summary counts them."""
        import io

        lines = b'{"conversations": [{"from": "human", "value": "a"}]}\n{"chosen": "\\n\\nHuman: b"}\n'
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines)))
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", "-", "--to", "openai", "-o", out)
        assert code == 0
        assert [json.loads(x)["messages"][0]["content"] for x in out.read_bytes().splitlines()] == ["a", "b"]
        assert "hh" in err and "sharegpt" in err

    def test_content_no_format_reads_is_rejected_whole(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """A file no format reads goes to the rejects file with the reason; the run warns."""
        bad = tmp_path / "notes.json"
        bad.write_text('["just", "strings"]')
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", bad, "--to", "anthropic", "-o", out)
        assert code == 1 and f"warning: {bad}: no format convo reads fits its content" in err
        (rej,) = read_rejects_raw(tmp_path / "out.rejects.jsonl")
        assert rej["file"] == str(bad) and rej["code"] == "format" and "no format" in rej["reason"]


class TestModelChoices:
    SRC = REALWORLD / "openai-chat" / "openai-python-recorded-chat-completions.jsonl"

    def _models(self, out: Path) -> set[Any]:
        return {json.loads(x).get("model") for x in out.read_bytes().splitlines()}

    def test_set_model_sets_every_line(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--set-model replaces the model of every line (OpenAI logs no longer come out as
        Anthropic requests for gpt-4o)."""
        out = tmp_path / "out.jsonl"
        code, _ = run(capsys, "convert", self.SRC, "--to", "anthropic", "--set-model", "claude-opus-4-8", "-o", out)
        assert code == 0 and self._models(out) == {"claude-opus-4-8"}

    def test_default_model_fills_only_where_missing(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--default-model leaves a line's own model alone."""
        out = tmp_path / "out.jsonl"
        run(capsys, "convert", self.SRC, "--to", "anthropic", "--default-model", "claude-opus-4-8", "-o", out)
        models = self._models(out)
        assert "claude-opus-4-8" not in models and any(str(m).startswith("gpt-") for m in models)
        src = REALWORLD / "openai-chat" / "toy_chat_fine_tuning.jsonl"
        run(capsys, "convert", src, "--to", "anthropic", "--default-model", "claude-opus-4-8", "-o", out)
        assert self._models(out) == {"claude-opus-4-8"}

    def test_model_is_a_deprecated_alias_of_default_model(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--model still fills where missing, as before, and says it is deprecated."""
        a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        _, err = run(capsys, "convert", self.SRC, "--to", "anthropic", "--model", "claude-opus-4-8", "-o", a)
        assert "--model is deprecated" in err
        run(capsys, "convert", self.SRC, "--to", "anthropic", "--default-model", "claude-opus-4-8", "-o", b)
        assert a.read_bytes() == b.read_bytes()


class TestFinetuneValidity:
    SRC = REALWORLD / "anthropic" / "cookbook-requests.jsonl"

    def test_lines_without_an_assistant_message_are_reported(self, capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
        """Request lines that end in a user turn have no assistant message, which OpenAI's
        fine-tuning refuses: each is counted in the summary, with its reason."""
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", self.SRC, "--to", "openai-finetune", "-o", out)
        assert code == 0
        lines = [json.loads(x) for x in out.read_bytes().splitlines()]
        invalid = sum(not any(m["role"] == "assistant" for m in x["messages"]) for x in lines)
        assert invalid > 0
        assert f"write $.messages: no assistant message: OpenAI fine-tuning refuses an example without one to learn from x {invalid}" \
            in " ".join(err.split())

    def test_valid_only_keeps_valid_examples_and_rejects_the_rest(self, capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
        """--valid-only writes only valid training examples; the others go to the rejects file
        (code rule) and in = out + rejected."""
        out = tmp_path / "out.jsonl"
        code, err = run(capsys, "convert", self.SRC, "--to", "openai-finetune", "--valid-only", "-o", out)
        assert code == 0
        kept = [json.loads(x) for x in out.read_bytes().splitlines()]
        assert all(any(m["role"] == "assistant" for m in x["messages"]) for x in kept)
        rejects = read_rejects(tmp_path / "out.rejects.jsonl")
        assert rejects and {r["code"] for r in rejects} == {"rule"}
        assert all("no assistant message" in r["reason"] for r in rejects)
        total = len(self.SRC.read_bytes().splitlines())
        assert len(kept) + len(rejects) == total
        assert f"{total} lines in = {len(kept)} out + {len(rejects)} rejected" in err


class TestPairsAndSubagents:
    def test_preference_pairs_stay_paired(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """LLaMA-Factory DPO lines convert to HH records with both sides; to a one-conversation
        format the rejected side is a counted loss."""
        src = REALWORLD / "hf-chat-preference" / "llamafactory__v1_dpo_demo.head10.jsonl"
        out = tmp_path / "hh.jsonl"
        code, _ = run(capsys, "convert", src, "--to", "hh", "-o", out)
        assert code == 0
        records = [json.loads(x) for x in out.read_bytes().splitlines()]
        assert len(records) == 10 and all(set(r) == {"chosen", "rejected"} for r in records)
        assert all(r["chosen"] != r["rejected"] for r in records)
        code, err = run(capsys, "convert", src, "--to", "anthropic", "-o", tmp_path / "a.jsonl")
        assert "write $.rejected: " in err and "x 10" in " ".join(err.split())

    def test_a_subagent_file_converts_to_its_conversation(self, capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
        """A Claude Code subagent file gives its conversation (before: an empty one)."""
        src = REALWORLD / "claude-code-sessions" / "spotter__ae4a77f8__subagents__agent-aac57f5.jsonl"
        out = tmp_path / "out.jsonl"
        code, _ = run(capsys, "convert", src, "--to", "anthropic", "-o", out)
        assert code == 0
        (conv,) = [convo.loads(x) for x in out.read_bytes().splitlines()]
        assert len(conv.messages) == 6


def test_valid_only_needs_openai_finetune(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--valid-only with another target is bad usage, said at once (exit 2)."""
    src = REALWORLD / "openai-chat" / "toy_chat_fine_tuning.jsonl"
    code, err = run(capsys, "convert", src, "--to", "anthropic", "--valid-only", "-o", tmp_path / "o.jsonl")
    assert code == 2 and "--valid-only applies to --to openai-finetune" in err
