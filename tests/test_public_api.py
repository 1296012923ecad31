"""The public face of convo: exported names, import weight, and the README's promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import convo

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_ALL = {
    "Conversation", "Message", "Response", "Usage", "StopDetails", "Block", "Text", "Image",
    "Document", "SearchResult", "ToolUse", "ToolResult", "Thinking", "RedactedThinking",
    "ServerToolUse", "ServerToolResult", "ContainerUpload", "ToolReference", "MidConvSystem",
    "UnknownBlock", "Base64Source", "URLSource", "FileSource", "TextSource", "ContentSource",
    "UnknownSource", "BatchRequest", "BatchResult", "Exchange", "UNSET", "FrozenDict",
    "validate", "check", "Report", "Violation", "Profile", "get_profile", "UnknownModelWarning",
    "pipeline", "transforms", "dumps", "loads", "dumps_response", "loads_response", "errors",
    "ConvoError", "DecodeError", "ValidationError", "TransformError",
}


class TestExports:
    def test_all_is_pinned(self) -> None:
        """convo.__all__ is exactly the intended public names, so nothing is exported by accident."""
        assert set(convo.__all__) == EXPECTED_ALL

    def test_every_exported_name_exists(self) -> None:
        """Every name in __all__ is an attribute of the package."""
        missing = [n for n in convo.__all__ if not hasattr(convo, n)]
        assert missing == []

    def test_design_contract_names(self) -> None:
        """The names DESIGN.md's public contract uses resolve to the right kinds of objects."""
        from convo import transforms as t

        conv = convo.Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi")
        assert isinstance(convo.validate(conv), convo.Report)
        assert repr(t.keep_last_turns(n=8)) == "keep_last_turns(n=8)"
        assert convo.loads(convo.dumps(conv)) == conv


class TestImportWeight:
    def test_import_convo_is_light(self) -> None:
        """`import convo` loads neither httpx (nor httpcore2) nor hypothesis (executors and strategies load on demand)."""
        code = (
            "import sys, convo; "
            "print(sorted(m for m in ('httpx', 'httpcore2', 'hypothesis', 'anthropic', 'jsonschema') if m in sys.modules))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]"

    def test_import_convo_loads_the_values_only(self) -> None:
        """`import convo` loads neither cattrs nor the rules, profiles, transforms or codec (each
        generates code or reads data on import): they load on first use (start-up, issue 14)."""
        heavy = ("cattrs", "convo.codec", "convo.codec._converter", "convo.rules", "convo.profiles",
                 "convo.transforms", "convo.transforms.repair", "convo.stream", "convo.executor")
        code = f"import sys, convo; print(sorted(m for m in {heavy!r} if m in sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]"

    def test_the_lazy_face_loads_on_first_use(self) -> None:
        """After a bare `import convo`, every public name, the fluent builders and the codec work."""
        code = (
            "import sys, convo\n"
            "conv = convo.Conversation(model='claude-opus-4-8', max_tokens=8).user('Hi').with_system('S')\n"
            "assert convo.loads(convo.dumps(conv)) == conv\n"
            "assert 'convo.transforms' in sys.modules and 'convo.codec' in sys.modules\n"
            "assert convo.validate(conv).ok and 'check' in dir(convo)\n"
            "from convo import pipeline, transforms, Report\n"
            "assert convo.transforms is transforms and pipeline is transforms.pipeline\n"
            "print('ok')"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "ok"

    def test_data_commands_leave_openssl_and_attrs_alone(self, tmp_path: Path) -> None:
        """``convo transform`` and ``convo validate`` never import hashlib or hmac, which load
        OpenSSL's libcrypto (3.7 MB of a one-worker run's ~30 MB peak; issue 14's budget); the
        secrets redaction loads them when it tags a secret. Nor attrs (67M of a ~390M-instruction
        start, ahead of any class it builds): every class a data command makes, its counts and
        tallies too, is convo._frozen's, and none of their code is compiled at start. A plain
        pipeline loads neither tempfile (with random: 11M), decimal, difflib, importlib.resources,
        the rules, nor the transforms it does not run: 385M -> 272M instructions for a short
        ``convo transform`` (import orjson alone is 156M)."""
        src = tmp_path / "in.jsonl"
        src.write_bytes((ROOT / "fixtures" / "transcripts.jsonl").read_bytes())
        code = (
            "import sys, runpy, atexit\n"
            "import convo._frozen as f\n"
            "atexit.register(lambda: print(f.COMPILED, sorted(m for m in ('_hashlib', 'hashlib', 'hmac', 'attr', 'attrs',"
            " 'cattrs') if m in sys.modules)))\n"
            "sys.argv = ['convo'] + sys.argv[1:]\n"
            "runpy.run_module('convo.cli', run_name='__main__')\n"
        )
        for argv in (["transform", str(src), "-o", str(tmp_path / "out.jsonl"), "-q", "-t", "drop_sampling_params()",
                      "-t", 'drop_images(placeholder="[image removed]")', "-t", 'migrate(model="claude-opus-4-8")'],
                     ["validate", str(tmp_path / "out.jsonl"), "--model", "claude-opus-4-8"]):
            out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path)
            assert out.stdout.strip().splitlines()[-1] == "[] []", (argv[0], out.stdout, out.stderr)
        light = ("tempfile", "random", "decimal", "difflib", "importlib.resources", "convo.transforms.secrets",
                 "convo.transforms.repair", "convo.transforms.unknown")
        code = code.replace("('_hashlib', 'hashlib', 'hmac', 'attr', 'attrs', 'cattrs')", repr(light))
        for argv, loaded in (
            (["transform", str(src), "-o", str(tmp_path / "out2.jsonl"), "-q", "-t", "drop_sampling_params()",
              "-t", 'drop_images(placeholder="[image removed]")', "-t", 'inject_system("Be brief.", where="top")'], "[]"),
            (["validate", str(tmp_path / "out2.jsonl"), "--model", "claude-opus-4-8"], "[]"),
            (["transform", str(src), "-o", str(tmp_path / "out3.jsonl"), "-q", "-t", "scrub_secrets(keyed=True)"],
             "['convo.transforms.secrets']"),
        ):
            out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path)
            assert out.returncode == (argv[0] == "validate") and out.stdout.strip().splitlines()[-1] == f"[] {loaded}", (
                argv, out.stdout, out.stderr)  # (validate: some fixture lines are invalid for opus-4-8)
        assert "convo.rules" not in subprocess.run(
            [sys.executable, "-c", "import sys, runpy; sys.argv = ['convo'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('convo.cli', run_name='__main__')\nfinally:\n    print(sorted(sys.modules))",
             "transform", str(src), "-o", str(tmp_path / "out4.jsonl"), "-q", "-t", "drop_images()"],
            capture_output=True, text=True, cwd=tmp_path).stdout
        key = subprocess.run([sys.executable, "-c", "import sys; from convo.transforms.secrets import RunKey; "
                              "RunKey.new().tag('sk-x'); print('hmac' in sys.modules)"],
                             capture_output=True, text=True, check=True)
        assert key.stdout.strip() == "True"

    def test_executor_loads_on_demand(self) -> None:
        """Importing convo.executor is what brings httpx in."""
        code = "import sys, convo.executor; print('httpx' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "True"

    def test_httpcore2_loads_with_the_first_client(self) -> None:
        """httpcore2 (the pool under convo's own clients) loads when convo builds one, not before."""
        code = (
            "import sys, convo.executor; print('httpcore2' in sys.modules); "
            "convo.executor.HttpExecutor('k').close(); print('httpcore2' in sys.modules)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["False", "True"]


class TestReadme:
    def test_ci_runs_the_readme_test_command(self) -> None:
        """.ci/run runs exactly the test command the README's quickstart gives."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
        commands = re.findall(r"^(python3 -m venv .venv && .*pytest.*)$", readme, re.M)
        assert len(commands) == 1, commands
        ci_lines = [line.strip() for line in ci.splitlines() if "pytest" in line and not line.startswith("#")]
        assert ci_lines == [commands[0].strip()]

    def test_unreleased_section_exists(self) -> None:
        """The README keeps an Unreleased changes section."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert "## Unreleased" in readme
