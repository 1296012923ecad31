"""The ``convo`` command: parsing, validate, transform, stats, fixtures, the summary and stdio."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

import convo
from convo import Conversation
from convo.cli import build_parser, main
from convo.rules import validate
from convo.testing.fixtures import BREAKERS, FixtureError, conversations
from tests._helpers_cli import QUICKSTART, TRANSCRIPTS, read_rejects

CONVO = [sys.executable, "-m", "convo.cli"]


class Run:
    """What one in-process run of the command gave."""

    def __init__(self, code: int, out: bytes, err: bytes) -> None:
        self.code = code
        self.out = out
        self.err = err.decode("utf-8", "replace")

    @property
    def lines(self) -> list[str]:
        return self.out.decode().splitlines()


@pytest.fixture
def cli(capsysbinary: pytest.CaptureFixture[bytes]) -> Any:
    """Run ``convo ARGS`` in this process and capture its stdout and stderr as bytes."""

    def run(*argv: str | Path) -> Run:
        code = main([str(a) for a in argv])
        cap = capsysbinary.readouterr()
        return Run(code, cap.out, cap.err)

    return run


def write_lines(path: Path, values: list[Any]) -> Path:
    """Write conversations / dicts / raw bytes as one JSONL file."""
    out = []
    for v in values:
        if isinstance(v, bytes):
            out.append(v)
        elif isinstance(v, Conversation):
            out.append(convo.dumps(v))
        else:
            out.append(orjson.dumps(v))
    path.write_bytes(b"\n".join(out) + b"\n")
    return path


def opus(**kw: Any) -> Conversation:
    return Conversation(model="claude-opus-4-8", max_tokens=256, **kw).user("Hello")


# --------------------------------------------------------------------------- parsing


class TestParser:
    @pytest.mark.parametrize("command", ["validate", "transform", "convert", "fixtures", "stats", "run", "serve"])
    def test_every_command_has_help_with_examples(self, cli: Any, command: str) -> None:
        """`convo COMMAND --help` exits 0 and shows examples of the command itself."""
        r = cli(command, "--help")
        assert r.code == 0
        text = r.out.decode()
        assert "examples:" in text
        assert f"convo {command}" in text.split("examples:")[1]

    def test_no_command_is_bad_usage(self, cli: Any) -> None:
        """Without a command the usage is shown and the status is 2."""
        r = cli()
        assert r.code == 2
        assert "validate" in r.err

    def test_unknown_option_is_bad_usage(self, cli: Any) -> None:
        """An unknown option exits 2 with argparse's reason."""
        r = cli("validate", "--frobnicate")
        assert r.code == 2
        assert "unrecognized arguments: --frobnicate" in r.err

    def test_bad_transform_spec_is_bad_usage(self, cli: Any, tmp_path: Path) -> None:
        """A -t that does not parse exits 2 and names the known transforms."""
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        r = cli("transform", src, "-t", "no_such_transform()", "-o", tmp_path / "out.jsonl")
        assert r.code == 2
        assert "drop_images" in r.err
        assert not (tmp_path / "out.jsonl").exists()

    def test_transform_spec_is_never_evaluated(self, cli: Any, tmp_path: Path) -> None:
        """A spec holding a call inside an argument is refused, not run."""
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        marker = tmp_path / "pwned"
        spec = f'redact(__import__("pathlib").Path("{marker}").touch())'
        r = cli("transform", src, "-t", spec, "-o", tmp_path / "out.jsonl")
        assert r.code == 2
        assert not marker.exists()

    def test_missing_input_is_bad_usage(self, cli: Any, tmp_path: Path) -> None:
        """A path that does not exist exits 2 and says which."""
        r = cli("validate", tmp_path / "nope.jsonl")
        assert r.code == 2
        assert "nope.jsonl: no such file or directory" in r.err

    def test_transform_without_transforms_is_bad_usage(self, cli: Any, tmp_path: Path) -> None:
        """transform with neither -t nor --pipeline exits 2."""
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        r = cli("transform", src, "-o", tmp_path / "o.jsonl")
        assert r.code == 2
        assert "-t SPEC" in r.err

    def test_workers_must_be_positive(self, cli: Any) -> None:
        """--workers 0 is refused, naming the option."""
        r = cli("stats", "--workers", "0")
        assert r.code == 2
        assert "--workers" in r.err

    def test_batch_has_a_place_in_the_parser(self) -> None:
        """`convo batch` is a registered command (its subcommands land separately)."""
        parser = build_parser()
        args = parser.parse_args(["batch"])
        assert args.command == "batch"


# --------------------------------------------------------------------------- validate


class TestEntry:
    def test_the_program_exits_with_mains_status_and_freezes_what_it_imported(self) -> None:
        """``convo`` (cli.entry) exits with main()'s status, having frozen the collector's view
        of its imports; main() called from Python does not freeze anything."""
        code = ("import atexit, gc, sys\n"
                "from convo.cli import entry, main\n"
                "assert main(['stats', '--workers', '0']) == 2 and gc.get_freeze_count() == 0\n"
                "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 1000))\n"
                "sys.argv = ['convo', 'stats', '--workers', '0']\n"
                "entry()\n")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert p.returncode == 2
        assert p.stdout.strip() == "frozen True"
        assert "--workers" in p.stderr


class TestValidate:
    def test_valid_file_exits_0(self, cli: Any, tmp_path: Path) -> None:
        """A file of valid conversations exits 0 and prints no diagnostic."""
        src = write_lines(tmp_path / "ok.jsonl", list(conversations(20, 1, tools=True, images=True)))
        r = cli("validate", src)
        assert r.code == 0
        assert r.out == b""
        assert "20 lines in = 20 valid + 0 invalid" in r.err
        assert "all valid" in r.err

    def test_diagnostic_format(self, cli: Any, tmp_path: Path) -> None:
        """Each violation is `FILE:LINE: RULE $.path message (hint)`, with the right line."""
        prefill = opus().assistant("Here is")
        src = write_lines(tmp_path / "in.jsonl", [opus(), b"", prefill])
        r = cli("validate", src)
        assert r.code == 1
        report = validate(prefill)
        v = next(v for v in report.errors if v.rule == "prefill.unsupported")
        assert f"{src}:3: prefill.unsupported {v.path} {v.message} ({v.hint})" in r.lines

    def test_summary_table_by_rule(self, cli: Any, tmp_path: Path) -> None:
        """After the diagnostics comes a table with one row per rule and its count."""
        bad = [opus(temperature=0.5), opus(temperature=0.2), opus().assistant("Sure")]
        src = write_lines(tmp_path / "in.jsonl", bad)
        r = cli("validate", src)
        rows = {line.split()[0]: line.split() for line in r.lines if line and not line.startswith(str(src))}
        assert rows["sampling.removed"][1:] == ["error", "2"]
        assert rows["prefill.unsupported"][1:] == ["error", "1"]
        assert "3 lines in = 0 valid + 3 invalid" in r.err

    def test_json_output(self, cli: Any, tmp_path: Path) -> None:
        """--json gives one JSON object per diagnostic and a summary object last."""
        src = write_lines(tmp_path / "in.jsonl", [opus(), opus(temperature=0.5), b"{oops"])
        r = cli("validate", src, "--json")
        objs = [orjson.loads(line) for line in r.out.splitlines()]
        diags = [o for o in objs if o["type"] == "diagnostic"]
        assert {(d["line"], d["rule"]) for d in diags} == {(2, "sampling.removed"), (3, "decode.json")}
        assert objs[-1]["type"] == "summary"
        assert (objs[-1]["lines"], objs[-1]["valid"], objs[-1]["invalid"]) == (3, 1, 2)
        assert r.code == 1

    def test_model_option_checks_for_that_model(self, cli: Any, tmp_path: Path) -> None:
        """--model checks every line as if sent to that model (prefill fine on sonnet-4-5)."""
        conv = Conversation(model="claude-sonnet-4-5", max_tokens=64).user("Hi").assistant("Hello")
        src = write_lines(tmp_path / "in.jsonl", [conv])
        assert cli("validate", src).code == 0
        r = cli("validate", src, "--model", "claude-opus-4-8")
        assert r.code == 1
        assert "prefill.unsupported" in r.out.decode()

    def test_api_version_changes_the_rules(self, cli: Any, tmp_path: Path) -> None:
        """temperature is fine on sonnet-4-5 under 2023-06-01 and removed under 2026-10-21."""
        conv = Conversation(model="claude-sonnet-4-5", max_tokens=64, temperature=0.3).user("Hi")
        src = write_lines(tmp_path / "in.jsonl", [conv])
        assert cli("validate", src, "--api-version", "2023-06-01").code == 0
        assert cli("validate", src, "--api-version", "2026-10-21").code == 1

    def test_undecodable_lines_are_diagnostics(self, cli: Any, tmp_path: Path) -> None:
        """Lines that do not decode get decode.* rules with the path inside the line."""
        src = write_lines(tmp_path / "in.jsonl", [b"\xff{}", b"[1]", b'{"model": "m", "messages": [{"role": 1}]}'])
        r = cli("validate", src)
        text = r.out.decode()
        assert f"{src}:1: decode.utf8 $ " in text
        assert f"{src}:2: decode.shape $ expected a JSON object, got an array" in text
        assert f"{src}:3: decode.shape $.messages[0].role " in text

    def test_over_long_lines_are_diagnostics(self, cli: Any, tmp_path: Path) -> None:
        """A line over --max-line-bytes is reported (both when streamed and when held)."""
        long_line = b'"' + b"x" * 1000 + b'"'
        src = write_lines(tmp_path / "in.jsonl", [opus(), long_line, opus(), long_line])
        for chunk in ("16", "100000"):  # streamed by the reader / caught in the worker
            r = cli("validate", src, "--max-line-bytes", "200", "--chunk-bytes", chunk)
            diags = [x for x in r.lines if x.startswith(str(src))]
            assert [d.split()[:2] for d in diags] == [[f"{src}:2:", "decode.too-long"], [f"{src}:4:", "decode.too-long"]]
            assert "line of 1002 bytes is longer than the limit of 200 bytes" in diags[0]
            assert r.code == 1

    def test_batch_line_paths_point_into_params(self, cli: Any, tmp_path: Path) -> None:
        """A violation in a batch request line is located under $.params."""
        line = {"custom_id": "a", "params": orjson.loads(convo.dumps(opus(temperature=0.5)))}
        src = write_lines(tmp_path / "in.jsonl", [line])
        r = cli("validate", src)
        assert f"{src}:1: sampling.removed $.params.temperature " in r.out.decode()

    def test_warnings_do_not_fail_unless_strict(self, cli: Any, tmp_path: Path) -> None:
        """A warning-only line is valid; --strict makes it count."""
        conv = Conversation(model="claude-opus-4-8", max_tokens=64).user("a").user("b")
        src = write_lines(tmp_path / "in.jsonl", [conv])
        r = cli("validate", src)
        assert r.code == 0
        assert "roles.consecutive" in r.out.decode()
        assert "warning:" in r.out.decode()
        assert cli("validate", src, "--strict").code == 1

    def test_rejects_option_keeps_invalid_lines(self, cli: Any, tmp_path: Path) -> None:
        """--rejects copies each invalid line with its rule."""
        bad = convo.dumps(opus(temperature=0.5))
        src = write_lines(tmp_path / "in.jsonl", [opus(), bad])
        rej = tmp_path / "bad.jsonl"
        cli("validate", src, "--rejects", rej)
        (rec,) = read_rejects(rej)
        assert (rec["line"], rec["code"], rec["path"], rec["bytes"]) == (2, "rule", "$.temperature", bad)


# --------------------------------------------------------------------------- transform


class TestTransform:
    def test_quickstart_migrates_the_fixtures(self, cli: Any, tmp_path: Path) -> None:
        """The README's quickstart: the migrated transcripts are all valid for claude-opus-4-8."""
        out = tmp_path / "migrated.jsonl"
        args = [a for spec in QUICKSTART for a in ("-t", spec)]
        r = cli("transform", TRANSCRIPTS, *args, "-o", out)
        assert r.code == 0
        assert "200 lines in = 195 out + 5 rejected" in r.err
        assert "migrate: removed temperature" in r.err
        rejects = read_rejects(tmp_path / "migrated.rejects.jsonl")
        assert [x["line"] for x in rejects] == [24, 62, 98, 143, 189]
        originals = TRANSCRIPTS.read_bytes().splitlines()
        assert all(x["bytes"] == originals[x["line"] - 1] for x in rejects)
        v = cli("validate", out, "--model", "claude-opus-4-8")
        assert v.code == 0, v.out.decode()[:2000]
        assert "195 lines in = 195 valid + 0 invalid" in v.err

    def test_change_report_counts_match_the_input(self, cli: Any, tmp_path: Path) -> None:
        """'drop_sampling_params: removed temperature x N' counts exactly the lines that had one."""
        convs = list(conversations(30, 4))
        convs = [c if i % 3 else Conversation(**{**_fields(c), "temperature": 0.5}) for i, c in enumerate(convs)]
        src = write_lines(tmp_path / "in.jsonl", convs)
        r = cli("transform", src, "-t", "drop_sampling_params()", "-o", tmp_path / "out.jsonl")
        assert "drop_sampling_params: removed temperature x 10" in " ".join(r.err.split())
        assert "lines changed: 10 of 30" in r.err

    def test_dry_run_prints_pipeline_and_diff_and_writes_nothing(self, cli: Any, tmp_path: Path) -> None:
        """--dry-run shows the parsed pipeline and the first changed line as a unified diff."""
        src = write_lines(tmp_path / "in.jsonl", [opus(), opus(temperature=0.5)])
        out = tmp_path / "out.jsonl"
        r = cli("transform", src, "-t", "drop_sampling_params()", "-o", out, "--dry-run")
        text = r.out.decode()
        assert r.code == 0
        assert text.startswith("pipeline: drop_sampling_params()\n")
        assert f"first changed line: {src}:2" in text
        assert '-  "temperature": 0.5\n' in text
        assert f"--- {src}:2 (before)" in text
        assert not out.exists()
        assert not (tmp_path / "out.rejects.jsonl").exists()

    def test_validate_for_rejects_what_the_model_refuses(self, cli: Any, tmp_path: Path) -> None:
        """--validate-for MODEL sends outputs that model would refuse to the rejects, with the rule."""
        prefill = opus().assistant("Sure")
        src = write_lines(tmp_path / "in.jsonl", [opus(temperature=0.5), prefill])
        out = tmp_path / "out.jsonl"
        r = cli("transform", src, "-t", "drop_sampling_params()", "--validate-for", "claude-opus-4-8", "-o", out)
        assert "2 lines in = 1 out + 1 rejected" in r.err
        (rec,) = read_rejects(tmp_path / "out.rejects.jsonl")
        assert (rec["line"], rec["code"]) == (2, "rule")
        assert rec["reason"].startswith("prefill.unsupported: ")
        assert rec["bytes"] == convo.dumps(prefill)

    def test_pipeline_file(self, cli: Any, tmp_path: Path) -> None:
        """--pipeline runs a Python file and applies its PIPELINE, before any -t."""
        pfile = tmp_path / "pipe.py"
        pfile.write_text(
            "from convo import transforms as t\n"
            "PIPELINE = t.pipeline(t.drop_sampling_params(), t.set_model('claude-sonnet-5'))\n"
        )
        src = write_lines(tmp_path / "in.jsonl", [opus(temperature=0.5)])
        out = tmp_path / "out.jsonl"
        r = cli("transform", src, "--pipeline", pfile, "-t", "set_model('claude-opus-5')", "-o", out)
        assert r.code == 0
        (line,) = out.read_bytes().splitlines()
        got = orjson.loads(line)
        assert got["model"] == "claude-opus-5"
        assert "temperature" not in got

    def test_pipeline_file_with_a_plain_function(self, cli: Any, tmp_path: Path) -> None:
        """A plain function bound to PIPELINE works and is reported as one change per line."""
        pfile = tmp_path / "pipe.py"
        pfile.write_text(
            "import attrs\n"
            "def shorten(conv):\n"
            "    return attrs.evolve(conv, max_tokens=128) if conv.max_tokens != 128 else conv\n"
            "PIPELINE = shorten\n"
        )
        src = write_lines(tmp_path / "in.jsonl", [opus(), opus()])
        out = tmp_path / "out.jsonl"
        r = cli("transform", src, "--pipeline", pfile, "-o", out)
        assert [orjson.loads(x)["max_tokens"] for x in out.read_bytes().splitlines()] == [128, 128]
        assert "shorten: changed the conversation x 2" in " ".join(r.err.split())

    def test_pipeline_file_without_pipeline_is_bad_usage(self, cli: Any, tmp_path: Path) -> None:
        """A pipeline file that binds no PIPELINE exits 2 and says what to write."""
        pfile = tmp_path / "pipe.py"
        pfile.write_text("X = 1\n")
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        r = cli("transform", src, "--pipeline", pfile, "-o", tmp_path / "o.jsonl")
        assert r.code == 2
        assert "PIPELINE" in r.err

    def test_a_transform_that_raises_costs_one_line(self, cli: Any, tmp_path: Path) -> None:
        """An exception in the pipeline rejects that line (code 'transform') and the run goes on."""
        pfile = tmp_path / "pipe.py"
        pfile.write_text(
            "def picky(conv):\n"
            "    if conv.max_tokens == 13:\n"
            "        raise RuntimeError('unlucky')\n"
            "    return conv\n"
            "PIPELINE = picky\n"
        )
        unlucky = Conversation(model="claude-opus-4-8", max_tokens=13).user("x")
        src = write_lines(tmp_path / "in.jsonl", [opus(), unlucky, opus()])
        out = tmp_path / "out.jsonl"
        r = cli("transform", src, "--pipeline", pfile, "-o", out)
        assert "3 lines in = 2 out + 1 rejected" in r.err
        (rec,) = read_rejects(tmp_path / "out.rejects.jsonl")
        assert (rec["line"], rec["code"], rec["reason"]) == (2, "transform", "RuntimeError: unlucky")
        assert rec["bytes"] == convo.dumps(unlucky)

    def test_each_line_kind_keeps_its_envelope(self, cli: Any, tmp_path: Path) -> None:
        """Batch request and exchange lines are transformed inside; batch results pass through."""
        req = orjson.loads(convo.dumps(opus(temperature=0.5)))
        lines = [
            {"custom_id": "a-1", "params": req},
            {"id": 7, "request": req, "response": {"id": "msg_1", "type": "message", "role": "assistant",
                                                    "content": [{"type": "text", "text": "Hi"}],
                                                    "stop_reason": "end_turn"}},
            {"custom_id": "a-1", "result": {"type": "expired"}},
        ]
        src = write_lines(tmp_path / "in.jsonl", lines)
        out = tmp_path / "out.jsonl"
        cli("transform", src, "-t", "drop_sampling_params()", "-o", out)
        got = [orjson.loads(x) for x in out.read_bytes().splitlines()]
        assert got[0]["custom_id"] == "a-1" and "temperature" not in got[0]["params"]
        assert got[1]["id"] == 7 and "temperature" not in got[1]["request"]
        assert got[1]["response"]["content"][0]["text"] == "Hi"
        assert got[2] == lines[2]

    def test_gzip_in_and_out(self, cli: Any, tmp_path: Path) -> None:
        """A .gz input is read and a .gz output is written compressed."""
        src = tmp_path / "in.jsonl.gz"
        src.write_bytes(gzip.compress(convo.dumps(opus(temperature=0.5)) + b"\n"))
        out = tmp_path / "out.jsonl.gz"
        assert cli("transform", src, "-t", "drop_sampling_params()", "-o", out).code == 0
        (line,) = gzip.decompress(out.read_bytes()).splitlines()
        assert orjson.loads(line) == orjson.loads(convo.dumps(opus()))

    def test_several_files_and_directories(self, cli: Any, tmp_path: Path) -> None:
        """Files and directories (their *.jsonl, sorted) are read in order; rejects name the file."""
        d = tmp_path / "logs"
        d.mkdir()
        write_lines(d / "b.jsonl", [Conversation(model="m", max_tokens=2).user("b")])
        write_lines(d / "a.jsonl", [Conversation(model="m", max_tokens=1).user("a"), b"{bad"])
        (d / "notes.txt").write_text("not read")
        first = write_lines(tmp_path / "first.jsonl", [Conversation(model="m", max_tokens=0).user("0")])
        out = tmp_path / "out.jsonl"
        r = cli("transform", first, d, "-t", "strip_thinking()", "-o", out)
        assert [orjson.loads(x)["max_tokens"] for x in out.read_bytes().splitlines()] == [0, 1, 2]
        (rec,) = read_rejects(tmp_path / "out.rejects.jsonl")
        assert (rec["file"], rec["line"]) == (str(d / "a.jsonl"), 2)
        assert "3 files" in r.err

    def test_rejects_file_is_fresh_after_a_clean_run(self, cli: Any, tmp_path: Path) -> None:
        """A clean run writes no rejects file, and removes the one an earlier run left there
        (it would pass for this run's); it used to leave an empty file after every run."""
        out = tmp_path / "out.jsonl"
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        cli("transform", src, "-t", "drop_images()", "-o", out)
        assert not (tmp_path / "out.rejects.jsonl").exists()
        (tmp_path / "out.rejects.jsonl").write_text('{"stale": true}\n')
        cli("transform", src, "-t", "drop_images()", "-o", out)
        assert not (tmp_path / "out.rejects.jsonl").exists()

    def test_fail_on_reject(self, cli: Any, tmp_path: Path) -> None:
        """By default rejects do not fail the run; --fail-on-reject makes them exit 1."""
        src = write_lines(tmp_path / "in.jsonl", [opus(), b"{bad"])
        out = tmp_path / "o.jsonl"
        assert cli("transform", src, "-t", "drop_images()", "-o", out).code == 0
        assert cli("transform", src, "-t", "drop_images()", "-o", out, "--fail-on-reject").code == 1

    def test_unwritable_output(self, cli: Any, tmp_path: Path) -> None:
        """An output in a directory that does not exist is bad usage: the reason names the path
        given (not a temporary file), and nothing is created."""
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        r = cli("transform", src, "-t", "drop_images()", "-o", tmp_path / "no" / "such" / "out.jsonl")
        assert r.code == 2
        assert f"cannot write {tmp_path / 'no' / 'such' / 'out.jsonl'}: no such directory" in r.err
        assert ".tmp" not in r.err and "Traceback" not in r.err
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]

    def test_rejects_cannot_overwrite_the_output(self, cli: Any, tmp_path: Path) -> None:
        """--rejects naming the output file is bad usage."""
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        out = tmp_path / "o.jsonl"
        r = cli("transform", src, "-t", "drop_images()", "-o", out, "--rejects", out)
        assert r.code == 2
        assert "the rejects file cannot be the output file" in r.err
        assert not out.exists()


def _fields(c: Conversation) -> dict[str, Any]:
    import attrs

    return {a.name: getattr(c, a.name) for a in attrs.fields(Conversation)}


# --------------------------------------------------------------------------- stats


class TestStats:
    def test_counts(self, cli: Any, tmp_path: Path) -> None:
        """stats counts lines, turns, models, images, tool calls, stop reasons exactly."""
        from convo import Image, ToolResult, ToolUse

        img = Image.from_url("https://example.com/a.png")
        a = (Conversation(model="claude-opus-4-8", max_tokens=64).user("Look", img)
             .assistant(ToolUse("toolu_1", "f", {})).user(ToolResult("toolu_1", content=(img,))))
        b = Conversation(model="claude-sonnet-4-5", max_tokens=64).user("Hi")
        resp = {"id": "m", "type": "message", "role": "assistant", "content": [], "stop_reason": "max_tokens"}
        ex = {"id": 1, "request": orjson.loads(convo.dumps(b)), "response": resp}
        src = write_lines(tmp_path / "in.jsonl", [a, b, ex, b"oops"])
        r = cli("stats", src, "--json")
        s = orjson.loads(r.out)
        assert (s["lines"], s["conversations"], s["turns"], s["undecodable"]) == (3, 3, 5, 1)
        assert (s["images"], s["tool_calls"], s["tool_results"]) == (2, 1, 1)
        assert s["models"] == {"claude-opus-4-8": 1, "claude-sonnet-4-5": 2}
        assert s["stop_reasons"] == {"max_tokens": 1}
        assert s["tokens"] > 0

    def test_text_table(self, cli: Any) -> None:
        """Without --json a readable table names the figures."""
        r = cli("stats", TRANSCRIPTS)
        text = r.out.decode()
        for label in ("lines", "turns (messages)", "images", "tool calls", "estimated tokens", "models:"):
            assert label in text
        assert "200 lines in = 195 read + 5 undecodable" in r.err


# --------------------------------------------------------------------------- fixtures


class TestFixtures:
    def test_same_seed_same_bytes(self, cli: Any, tmp_path: Path) -> None:
        """The same --seed writes the same bytes; another seed writes others."""
        a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
        opts = ["--count", "25", "--images", "--tools", "--thinking"]
        cli("fixtures", *opts, "--seed", "9", "-o", a)
        cli("fixtures", *opts, "--seed", "9", "-o", b)
        cli("fixtures", *opts, "--seed", "10", "-o", c)
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()
        assert len(a.read_bytes().splitlines()) == 25

    def test_same_bytes_in_a_fresh_interpreter(self, tmp_path: Path) -> None:
        """Reproducible across processes (no hash randomisation or global state leaks in)."""
        out = []
        for seed in ("0", "1"):
            env = {**os.environ, "PYTHONHASHSEED": seed}
            p = subprocess.run([*CONVO, "fixtures", "--count", "5", "--seed", "s", "--tools", "-q"],
                               capture_output=True, env=env, check=True)
            out.append(p.stdout)
        assert out[0] == out[1]
        assert out[0].count(b"\n") == 5

    def test_count_is_a_prefix(self, cli: Any) -> None:
        """--count 5 is the first five lines of --count 12."""
        short = cli("fixtures", "--count", "5", "--seed", "3", "-q").out
        long = cli("fixtures", "--count", "12", "--seed", "3", "-q").out
        assert long.startswith(short)

    @pytest.mark.parametrize("model", ["claude-opus-4-8", "claude-sonnet-4-5", "claude-sonnet-5", "claude-opus-5-5"])
    @pytest.mark.parametrize("api_version", ["2023-06-01", "2026-10-21"])
    def test_valid_for_the_model(self, model: str, api_version: str) -> None:
        """Generated conversations have no errors (nor warnings) for their model and API version."""
        for conv in conversations(25, 2, model=model, api_version=api_version, images=True, tools=True, thinking=True):
            report = validate(conv, api_version=api_version)
            assert not report.violations, report.violations

    @pytest.mark.filterwarnings("ignore::convo.profiles.UnknownModelWarning")
    @pytest.mark.parametrize("rule", sorted(BREAKERS))
    def test_invalid_breaks_the_rule(self, rule: str) -> None:
        """--invalid RULE gives conversations that validate reports breaking RULE."""
        for model, version in (("claude-opus-4-8", "2026-10-21"), ("claude-sonnet-4-5", "2023-06-01"),
                               ("claude-opus-4-8", "2023-06-01"), ("claude-sonnet-5", "2026-10-21")):
            try:
                convs = list(conversations(2, 1, model=model, api_version=version, invalid=rule, tools=True))
            except FixtureError:
                continue
            for conv in convs:
                rules = {v.rule for v in validate(conv, api_version=version).violations}
                assert rule in rules, (model, version, rules)
            return
        pytest.fail(f"no model could break {rule}")

    def test_every_rule_can_be_broken(self) -> None:
        """The breakers cover every rule the rules engine knows."""
        from convo.rules import RULES

        assert set(RULES) <= set(BREAKERS)

    def test_invalid_unknown_rule_is_bad_usage(self, cli: Any) -> None:
        """An unknown rule id exits 2 and lists the known ones."""
        r = cli("fixtures", "--count", "1", "--seed", "1", "--invalid", "no.such-rule")
        assert r.code == 2
        assert "prefill.unsupported" in r.err

    def test_invalid_impossible_for_model_is_bad_usage(self, cli: Any) -> None:
        """Breaking prefill.unsupported on a model that takes prefill exits 2 and says why."""
        r = cli("fixtures", "--count", "1", "--seed", "1", "--model", "claude-sonnet-4-5",
                "--invalid", "prefill.unsupported")
        assert r.code == 2
        assert "accepts prefill" in r.err

    def test_logged_transcripts_need_migrating(self, cli: Any) -> None:
        """--logged writes old-model transcripts: valid for their model under 2023-06-01 only."""
        out = cli("fixtures", "--count", "40", "--seed", "1", "--logged", "-q").out
        convs = [convo.loads(line) for line in out.splitlines()]
        with warnings.catch_warnings():  # retired ids (claude-3-7-sonnet) have no profile, by design
            warnings.simplefilter("ignore", convo.UnknownModelWarning)
            assert all(not validate(c, api_version="2023-06-01").errors for c in convs)
        assert any(validate(c, profile="claude-opus-4-8").errors for c in convs)

    def test_committed_transcripts_match_their_script(self) -> None:
        """fixtures/transcripts.jsonl is exactly what benchmarks/make_transcripts.py writes."""
        p = subprocess.run([sys.executable, str(TRANSCRIPTS.parents[1] / "benchmarks" / "make_transcripts.py"),
                            "--check"], capture_output=True, text=True)
        assert p.returncode == 0, p.stdout + p.stderr


# --------------------------------------------------------------------------- summary, progress, stdio


class TestSummaryAndStdio:
    def test_summary_says_in_equals_out_plus_rejected(self, cli: Any, tmp_path: Path) -> None:
        """The summary on stderr gives lines in = out + rejected, size and time; no MB/s for a
        run too short for the figure to mean anything (it was mostly start-up)."""
        src = write_lines(tmp_path / "in.jsonl", [opus(), b"x", b"", opus()])
        r = cli("transform", src, "-t", "drop_images()", "-o", tmp_path / "o.jsonl")
        (line,) = [x for x in r.err.splitlines() if x.startswith("convo transform:")]
        assert "3 lines in = 2 out + 1 rejected (1 blank skipped); 1 file," in line
        assert "MB/s" not in line and line.endswith(" s")

    def test_quiet(self, cli: Any, tmp_path: Path) -> None:
        """-q prints nothing on stderr."""
        src = write_lines(tmp_path / "in.jsonl", [opus()])
        r = cli("transform", src, "-t", "drop_images()", "-o", tmp_path / "o.jsonl", "-q")
        assert (r.code, r.err) == (0, "")
        assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == 1  # the work was still done

    def test_no_progress_bar_when_not_a_terminal(self, tmp_path: Path) -> None:
        """With stderr a pipe there is no progress bar (no carriage returns)."""
        src = write_lines(tmp_path / "in.jsonl", [opus()] * 50)
        p = subprocess.run([*CONVO, "stats", str(src)], capture_output=True, check=True)
        assert b"\r" not in p.stderr

    def test_progress_bar_on_a_terminal(self, tmp_path: Path) -> None:
        """With stderr a terminal the progress bar is drawn (and erased) on stderr."""
        import pty

        src = write_lines(tmp_path / "in.jsonl", [opus()] * 20_000)
        master, slave = pty.openpty()
        # a tiny chunk size keeps the run going long enough for the bar's 0.1 s throttle
        p = subprocess.Popen([*CONVO, "stats", str(src), "--chunk-bytes", "4096"],
                             stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        p.communicate()  # waits and closes the stdout pipe
        os.close(master)
        assert b"\r" in err and b"lines" in err and b"MB/s" in err
        assert b"\x1b[K" in err

    def test_stdin_to_stdout(self, tmp_path: Path) -> None:
        """'-' reads stdin and writes stdout (gzip on stdin is recognised by its magic bytes)."""
        data = gzip.compress(convo.dumps(opus(temperature=0.5)) + b"\n")
        p = subprocess.run([*CONVO, "transform", "-", "-t", "drop_sampling_params()", "-o", "-"],
                           input=data, capture_output=True, check=True, cwd=tmp_path)
        assert orjson.loads(p.stdout) == orjson.loads(convo.dumps(opus()))
        assert b"1 lines in = 1 out + 0 rejected" in p.stderr
        assert not (tmp_path / "convo.rejects.jsonl").exists()

    def test_stdout_output_with_rejects(self, tmp_path: Path) -> None:
        """With stdout output, rejects go to convo.rejects.jsonl (created only when needed); a run
        that wrote nothing from something is not a success (exit 1)."""
        p = subprocess.run([*CONVO, "transform", "-", "-t", "drop_images()"],
                           input=b"{nope\n", capture_output=True, cwd=tmp_path)
        assert p.returncode == 1
        assert p.stdout == b""
        (rec,) = read_rejects(tmp_path / "convo.rejects.jsonl")
        assert (rec["file"], rec["line"], rec["bytes"]) == ("<stdin>", 1, b"{nope")

    def test_entry_point_script(self, tmp_path: Path) -> None:
        """The installed `convo` script runs main()."""
        script = Path(sys.executable).parent / "convo"
        if not script.exists():
            pytest.skip("convo is not installed as a script in this environment")
        p = subprocess.run([str(script), "--help"], capture_output=True, text=True)
        assert p.returncode == 0
        assert "transform" in p.stdout
