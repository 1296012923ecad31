"""A newcomer's first hour (issue 13): typos caught with the closest ids, help that runs as
written, messages that name what the user typed."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import orjson
import pytest

import convo
from convo import transforms as t
from convo.cli import main
from convo.errors import UnknownModelError
from convo.profiles import require_known, suggest_models

CONVO = [sys.executable, "-m", "convo.cli"]


@pytest.fixture
def fx(tmp_path: Path) -> Path:
    out = tmp_path / "fx.jsonl"
    assert main(["fixtures", "--count", "4", "--seed", "1", "-q", "-o", str(out)]) == 0
    return out


class TestModelTypos:
    def test_migrate_to_a_typo_is_refused_with_the_closest_id(self):
        """migrate(model="claude-opus-48") raises, naming claude-opus-4-8; it used to rewrite every line."""
        with pytest.raises(UnknownModelError, match="did you mean claude-opus-4-8\\?") as e:
            t.migrate(model="claude-opus-48")
        assert e.value.model == "claude-opus-48" and e.value.suggestions == ("claude-opus-4-8",)

    def test_allow_unknown_takes_the_id_and_parses_back(self):
        """allow_unknown=True is the way to say the id is intended; the repr keeps it."""
        tr = t.migrate(model="claude-opus-9-1", allow_unknown=True)
        assert repr(tr) == "migrate(model='claude-opus-9-1', allow_unknown=True)"
        assert repr(t.parse(repr(tr))) == repr(tr)
        conv = convo.Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi")
        assert tr(conv).model == "claude-opus-9-1"
        assert t.set_model("claude-opus-9-1", allow_unknown=True)(conv).model == "claude-opus-9-1"

    def test_set_model_typo(self):
        """set_model() refuses a typo the same way."""
        with pytest.raises(UnknownModelError, match="claude-sonnet-4-5"):
            t.set_model("claude-sonet-4-5")

    def test_dated_builds_and_aliases_are_known(self):
        """A dated build of a known model is not a typo."""
        assert require_known("claude-haiku-4-5-20251001", what="x").model == "claude-haiku-4-5"

    @pytest.mark.parametrize(
        ("typed", "meant"),
        [("claude-opus-4.8", "claude-opus-4-8"), ("claude-opus-48", "claude-opus-4-8"),
         ("claude-sonet-4-5", "claude-sonnet-4-5")],
    )
    def test_suggestions(self, typed, meant):
        """The closest known id comes first, alone when it is clearly the one."""
        assert suggest_models(typed) == (meant,)

    def test_nothing_close_suggests_nothing(self):
        """An id like no other gets no suggestion, and still an error."""
        assert suggest_models("gpt-4o") == ()
        with pytest.raises(UnknownModelError, match="no profile knows 'gpt-4o' \\("):
            require_known("gpt-4o", what="--model")

    def test_command_refuses_a_migrate_typo(self, fx, tmp_path, capsys):
        """The issue's command: exit 2, nothing written, the typo and the id named."""
        out = tmp_path / "m.jsonl"
        status = main(["transform", str(fx), "-t", 'migrate(model="claude-opus-48")', "-o", str(out)])
        err = capsys.readouterr().err
        assert status == 2 and not out.exists()
        assert "'claude-opus-48'" in err and "did you mean claude-opus-4-8?" in err

    def test_validate_model_typo_names_the_typo(self, fx, capsys):
        """--model claude-opus-4.8 names what was typed, not the conversation's own model."""
        assert main(["validate", str(fx), "--model", "claude-opus-4.8"]) == 2
        err = capsys.readouterr().err
        assert "'claude-opus-4.8'" in err and "did you mean claude-opus-4-8?" in err
        assert "--allow-unknown-model" in err

    def test_validate_for_typo(self, fx, tmp_path, capsys):
        """--validate-for with a typo is refused before any line is read."""
        status = main(["transform", str(fx), "-t", "drop_images()", "--validate-for", "claude-opus-48",
                       "-o", str(tmp_path / "o.jsonl")])
        assert status == 2 and "did you mean claude-opus-4-8?" in capsys.readouterr().err

    def test_allow_unknown_model_flag(self, fx):
        """--allow-unknown-model takes an unknown target as intended."""
        assert main(["validate", str(fx), "--model", "claude-opus-9-1", "--allow-unknown-model", "-q"]) == 0

    def test_fixtures_model_typo(self, tmp_path, capsys):
        """convo fixtures --model with a typo is refused too."""
        assert main(["fixtures", "--count", "1", "--seed", "1", "--model", "claude-opus-48", "-o",
                     str(tmp_path / "f.jsonl")]) == 2
        assert "claude-opus-4-8" in capsys.readouterr().err


class TestWarningsPointAtTheCaller:
    def test_unknown_model_warning_names_the_callers_line(self):
        """UnknownModelWarning points at the user's line, however deep inside convo it is raised."""
        conv = convo.Conversation(model="claude-nobody-1", max_tokens=5).user("Hi")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            convo.validate(conv)
        (w,) = [w for w in caught if w.category is convo.UnknownModelWarning]
        assert w.filename == __file__


class TestTransformNames:
    def test_a_near_miss_gets_did_you_mean(self):
        """t.parse("drop_image()") suggests drop_images(), as other typos do."""
        with pytest.raises(ValueError, match="did you mean drop_images\\(\\)\\?"):
            t.parse("drop_image()")

    def test_the_help_pipeline_file_runs_as_written(self, fx, tmp_path):
        """The --help example file, exactly `PIPELINE = pipeline(t.strip_thinking(), t.drop_images())`,
        runs (it raised NameError: name 'pipeline' is not defined)."""
        from convo.cli.transform import EPILOG

        line = next(x for x in EPILOG.splitlines() if "PIPELINE = " in x).split("e.g.", 1)[1].strip()
        line = line.removesuffix(".")  # the sentence's full stop
        assert line == "PIPELINE = pipeline(t.strip_thinking(), t.drop_images())"
        pipe = tmp_path / "pipe.py"
        pipe.write_text(line + "\n")
        out = tmp_path / "o.jsonl"
        proc = subprocess.run([*CONVO, "transform", str(fx), "--pipeline", str(pipe), "-o", str(out)],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "pipeline(strip_thinking(), drop_images())" in proc.stderr
        assert len(out.read_bytes().splitlines()) == 4


class TestHonestSummaries:
    def test_convert_that_wrote_nothing_is_not_a_success(self, tmp_path, capsys):
        """25 lines in = 0 out + 25 rejected used to say "nothing lost" and exit 0."""
        src = tmp_path / "in.jsonl"
        src.write_text("".join('{"not": "an openai chat"}\n' for _ in range(5)))
        status = main(["convert", str(src), "--from", "openai", "--to", "anthropic", "-o", str(tmp_path / "o.jsonl")])
        err = capsys.readouterr().err
        assert status == 1
        assert "5 lines in = 0 out + 5 rejected" in err
        assert "nothing lost" not in err and "nothing was written" in err

    def test_convert_with_rejects_does_not_claim_nothing_lost(self, tmp_path, capsys):
        """With some lines rejected, "nothing lost" speaks only of the lines written."""
        src = tmp_path / "in.jsonl"
        src.write_text('{"messages": [{"role": "user", "content": "Hi"}]}\n{"nope": 1}\n')
        status = main(["convert", str(src), "--from", "openai", "--to", "anthropic", "-o", str(tmp_path / "o.jsonl")])
        err = capsys.readouterr().err
        assert status == 0
        assert "\n  nothing lost\n" not in err + "\n" and "nothing lost in the 1 lines written" in err
        assert main(["convert", str(src), "--from", "openai", "--to", "anthropic", "-o",
                     str(tmp_path / "o.jsonl"), "--fail-on-reject", "-q"]) == 1

    @pytest.mark.parametrize("command", ["validate", "transform", "convert", "stats"])
    def test_every_line_command_states_the_exit_rule(self, command, capsys):
        """One exit-code rule, written in every line command's --help."""
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "exit status (every command)" in out and "--fail-on-reject" in out

    def test_stats_fail_on_reject(self, fx, tmp_path):
        """stats takes --fail-on-reject like every command that rejects lines."""
        src = tmp_path / "mixed.jsonl"
        src.write_bytes(fx.read_bytes() + b"{broken\n")
        assert main(["stats", str(src), "-q"]) == 0
        assert main(["stats", str(src), "-q", "--fail-on-reject"]) == 1


class TestTransformList:
    def test_list_shows_every_transform(self, capsys):
        """`convo transform --list` names every registered transform with its parameters and summary."""
        from convo.transforms import REGISTRY

        assert main(["transform", "--list"]) == 0
        out = capsys.readouterr().out
        for name in REGISTRY:
            assert f"\n{name}(" in "\n" + out, name
        assert "keep_last_turns(n: int)\n    Keep the last *n* messages" in out
        assert "facts §" not in out

    def test_readme_lists_the_same(self):
        """README.md between the transforms markers is exactly catalog_markdown()."""
        from convo.transforms.parse import catalog_markdown

        readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
        start, end = "<!-- transforms:start -->", "<!-- transforms:end -->"
        assert readme[readme.index(start) + len(start): readme.index(end)].strip() == catalog_markdown()

    def test_every_spec_in_the_list_parses(self):
        """Every transform -t can take parses from the text its catalog entry suggests."""
        from convo.transforms.parse import catalog

        examples = {"keep_last_turns": "keep_last_turns(n=8)", "trim_to_tokens": "trim_to_tokens(budget=1000)",
                    "migrate": 'migrate(model="claude-opus-4-8")', "set_model": 'set_model("claude-opus-4-8")',
                    "redact": 'redact("x")', "prefill": 'prefill("The")', "inject_system": 'inject_system("Be terse.")',
                    "append_user": 'append_user("Hi")', "append_assistant": 'append_assistant("Hi")',
                    "attach_image": 'attach_image("https://example.com/a.png")', "with_params": "with_params(speed=\"fast\")"}
        for info in catalog():
            if info.from_text:
                text = examples.get(info.name, f"{info.name}()")
                assert repr(t.parse(text)).startswith(info.name), text


def _actions(parser, prefix=()):
    import argparse

    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _actions(sub, (*prefix, name))
        else:
            yield prefix, a


class TestHelpThatTeaches:
    def test_every_option_has_help(self):
        """Every option and argument of every command says what it is (11 had no help at all)."""
        import argparse

        from convo.cli import build_parser

        missing = [f"{' '.join(p)} {a.option_strings or a.dest}" for p, a in _actions(build_parser())
                   if not a.help and not isinstance(a, argparse._HelpAction)]
        assert missing == []

    def test_every_subcommand_has_examples(self):
        """Every command and batch step shows examples in its --help."""
        import argparse

        from convo.cli import build_parser

        def parsers(parser, prefix=()):
            for a in parser._actions:
                if isinstance(a, argparse._SubParsersAction):
                    for name, sub in a.choices.items():
                        yield (*prefix, name), sub
                        yield from parsers(sub, (*prefix, name))

        lacking = [" ".join(p) for p, sub in parsers(build_parser()) if "examples:" not in (sub.epilog or "")]
        assert lacking == []

    def test_status_and_cancel_list_only_what_applies(self, capsys):
        """batch status and cancel do not wait, so they offer no polling options."""
        for step in ("status", "cancel"):
            assert main(["batch", step, "--help"]) == 0
            out = capsys.readouterr().out
            assert "--poll-interval" not in out and "--settle" not in out and "examples:" in out

    def test_serve_help_has_the_fault_syntax(self, capsys):
        """convo serve --help gives the --faults syntax instead of "see the emulator's docs"."""
        assert main(["serve", "--help"]) == 0
        out = capsys.readouterr().out
        assert "see the emulator's docs" not in out
        for word in ("SPEC   := ENTRY", "retry-after=SECONDS", "sse-cut", "@GET /v1/messages/batches/*"):
            assert word in out

    def test_convert_offers_from_and_to_only(self, capsys):
        """convert --help no longer offers the line-kind --format next to --from/--to, and says it
        reads more than JSONL (its example reads a .json file)."""
        assert main(["convert", "--help"]) == 0
        out = capsys.readouterr().out
        assert "--format" not in out and "JSON array" in out

    def test_fixtures_refuses_a_terminal(self, tmp_path):
        """convo fixtures without -o on a terminal says how to write them instead of pouring them out."""
        import os
        import pty

        pid, fd = pty.fork()
        if pid == 0:  # the child: stdout is the terminal
            os.execv(sys.executable, [sys.executable, "-m", "convo.cli", "fixtures", "--count", "50", "--seed", "1"])  # noqa: S606 - the test runs the command it names
        out = b""
        while True:
            try:
                piece = os.read(fd, 65536)
            except OSError:
                break
            if not piece:
                break
            out += piece
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 2
        assert b"give -o FILE" in out and b'"messages"' not in out

    def test_serve_api_key(self, tmp_path):
        """convo serve --api-key restricts the keys, as the emulator's own entry point did."""
        import httpx

        proc = subprocess.Popen([*CONVO, "serve", "--port", "0", "--api-key", "right"],
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            url = line.split("listening on ", 1)[1].split()[0]
            body = {"model": "claude-opus-4-8", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}
            headers = {"anthropic-version": "2023-06-01"}
            with httpx.Client() as c:
                bad = c.post(url + "/v1/messages", json=body, headers={**headers, "x-api-key": "wrong"})
                good = c.post(url + "/v1/messages", json=body, headers={**headers, "x-api-key": "right"})
            assert (bad.status_code, good.status_code) == (401, 200)
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stderr.close()


class TestOneTokenEstimate:
    def test_estimate_mock_and_emulator_agree(self):
        """One conversation, one figure: estimate_tokens, a MockExecutor reply's usage, the
        emulator's usage and its count_tokens (they said 16, 250 and 24 for one conversation)."""
        import httpx

        from convo import Image
        from convo._samples import png
        from convo.executor import HttpExecutor, MockExecutor
        from convo.testing import Emulator

        conv = (convo.Conversation(model="claude-opus-4-8", max_tokens=64)
                .user("What is in this image?", Image.from_bytes(png(120, 80, (10, 20, 30)))))
        expected = t.estimate_tokens(conv)
        assert MockExecutor(lambda c: "A square.").execute(conv).usage.input_tokens == expected
        with Emulator() as url:
            with HttpExecutor(api_key="k", base_url=url) as ex:
                assert ex.execute(conv).usage.input_tokens == expected
            body = {k: v for k, v in orjson.loads(convo.dumps(conv)).items() if k != "max_tokens"}
            counted = httpx.post(url + "/v1/messages/count_tokens", json=body,
                                 headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
        assert counted.json()["input_tokens"] == expected


class TestLooksReleased:
    def test_installed_metadata(self):
        """`pip install .` gives a licence, an author and classifiers (they were empty)."""
        from importlib.metadata import metadata

        md = metadata("convo")
        assert md["License-Expression"] == "MIT"
        assert "LICENSE" in (md.get_all("License-File") or [])
        assert md["Author"]
        assert "Typing :: Typed" in (md.get_all("Classifier") or [])
        license_text = (Path(__file__).parents[1] / "LICENSE").read_text()
        assert license_text.startswith("MIT License")


class TestMessagesCiteWhatUsersSee:
    def test_validate_profile_names_the_profile(self):
        """validate(conv, profile="gpt-4o") names gpt-4o, not the conversation's model."""
        conv = convo.Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", convo.UnknownModelWarning)
            report = convo.validate(conv, profile="gpt-4o")
        (v,) = [v for v in report.violations if v.rule == "model.unknown"]
        assert "'gpt-4o'" in v.message and "claude-opus-4-8" not in v.message

    def test_no_message_cites_the_internal_facts_file(self):
        """No string a user can see (errors, change notes, rule messages) cites `facts §`, a file
        users never see (159 did); docstrings and comments keep their sources."""
        import ast

        root = Path(convo.__file__).parent
        found = []
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = {id(n.body[0].value) for n in ast.walk(tree)
                    if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                    and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            docs |= {id(st.value) for n in ast.walk(tree) if isinstance(getattr(n, "body", None), list)
                     for st in n.body if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)}
            found += [f"{path.relative_to(root)}:{n.lineno}" for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str)
                      and id(n) not in docs and "facts §" in n.value]
        assert found == []
