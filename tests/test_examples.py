"""Every example in every ``--help`` and every Python block of the README runs, as written.

The help examples run in a shell (``bash -c``), in a folder holding the files they name, with
``ANTHROPIC_BASE_URL`` pointing at a local emulator; a command's examples run in order in one
folder, after what they assume was done (:data:`PRELUDE`: a batch step needs a submitted job). An example passes when it exits 0 or 1
(1 is how ``validate`` reports violations) with no traceback. The only rewrites: port 8123
becomes a free port, and an example that needs an object store (``s3://``) is left out, with its
reason below. The README's Python blocks run in order in one namespace, given the few values
they name without defining (``raw_bytes``, ``openai_body``, ``convs``).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from convo.cli import build_parser
from convo.testing import Emulator

ROOT = Path(__file__).parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"
BIN = Path(sys.executable).parent

# What a command's examples assume was done before them (a batch step needs a submitted job).
PRELUDE = dict.fromkeys(("batch status", "batch results", "batch cancel"), "convo batch submit requests.jsonl -o job.json -q")

LEFT_OUT = {
    "s3://": "needs an object store (the Dask path is tested on a local cluster in test_dask.py)",
}


def _parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield (*prefix, name), sub
                yield from _parsers(sub, (*prefix, name))


def help_examples() -> dict[str, list[str]]:
    """Each command's examples, as shell lines (continuation lines joined)."""
    out: dict[str, list[str]] = {}
    for path, sub in _parsers(build_parser()):
        epilog = sub.epilog or ""
        if "examples:" not in epilog:
            continue
        lines: list[str] = []
        for raw in epilog.split("examples:", 1)[1].splitlines():
            if not raw.startswith("  ") or not raw.strip():
                if lines and not raw.strip():
                    break
                continue
            text = raw.strip()
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + text
            else:
                lines.append(text)
        out[" ".join(path)] = lines
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sandbox(d: Path) -> None:
    """The files the examples name."""
    fx = (ROOT / "fixtures" / "transcripts.jsonl").read_bytes()
    good = [x for x in fx.splitlines() if b'"model":"claude-opus' in x.replace(b" ", b"")][:20] or fx.splitlines()[:20]
    (d / "fixtures").mkdir()
    (d / "fixtures" / "transcripts.jsonl").write_bytes(fx)
    (d / "transcripts.jsonl").write_bytes(fx)
    for sub in ("data", "logs", "more", "tests/data"):
        (d / sub).mkdir(parents=True)
    (d / "data" / "a.jsonl").write_bytes(b"\n".join(good[:5]) + b"\n")
    (d / "logs" / "a.jsonl").write_bytes(b"\n".join(good[5:10]) + b"\n")
    for f in sorted((REALWORLD / "inspect-ai").glob("*.eval"))[:2]:
        shutil.copy(f, d / "logs" / f.name)
    (d / "out.jsonl.gz").write_bytes(gzip.compress(b"\n".join(good[:5]) + b"\n"))
    (d / "big.jsonl.gz").write_bytes(gzip.compress(fx))
    req = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
    requests = b"\n".join(orjson.dumps({**req, "messages": [{"role": "user", "content": f"q{i}"}]}) for i in range(3))
    (d / "requests.jsonl").write_bytes(requests + b"\n")
    (d / "more" / "b.jsonl").write_bytes(orjson.dumps(req) + b"\n")
    card = {**req, "messages": [{"role": "user", "content": "my card is 4111111111111111"}]}
    (d / "in.jsonl").write_bytes(orjson.dumps(card) + b"\n")
    chat = {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "Hello"}]}
    (d / "chats.jsonl").write_bytes(orjson.dumps(chat) + b"\n")
    share = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}]
    (d / "sharegpt.json").write_bytes(orjson.dumps(share))
    _exchanges(d / "runs.jsonl")
    _exchanges(d / "exchanges.jsonl", 15, source="requests.jsonl")
    _exchanges(d / "before.jsonl", 15, source="requests.jsonl")
    _exchanges(d / "after.jsonl", 15, source="requests.jsonl", answer="Another answer")
    (d / "migrated.jsonl").write_bytes(b"\n".join(good) + b"\n")
    shutil.copy(REALWORLD / "claude-code-jsonl" / "claude-code-log__session_b.jsonl", d / "session.jsonl")
    project = d / "home" / ".claude" / "projects" / "demo"  # ~ is the sandbox's home
    project.mkdir(parents=True)
    shutil.copy(REALWORLD / "claude-code-jsonl" / "claude-code-log__session_b.jsonl", project / "session.jsonl")


def _exchanges(path: Path, n: int = 3, *, source: str = "runs", answer: str = "Answer") -> list[object]:
    """A small file of exchange records (what ``convo run`` writes), and the values it holds."""
    from convo import Conversation, Exchange
    from convo.codec.lines import encode_value
    from convo.executor import reply

    values: list[object] = []
    for i in range(n):
        conv = Conversation(model="claude-opus-4-8", max_tokens=64).user(f"Question {i}?")
        values.append(Exchange(id=f"{source}:{i + 1}", request=conv, response=reply(conv, f"{answer} {i}.")))
    path.write_bytes(b"".join(encode_value(v) + b"\n" for v in values))
    return values


def _run(line: str, cwd: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """Run one example line; a server it starts is stopped once it says it listens, and whatever
    it started in the background (``convo serve ... &``) is stopped when the line is done."""
    serves = line.startswith("convo serve") and "&" not in line
    with open(cwd / ".stdout", "wb") as out, open(cwd / ".stderr", "wb") as err:
        proc = subprocess.Popen(["bash", "-c", line], cwd=cwd, env=env, stdout=out, stderr=err,
                                start_new_session=True)
    status: int | None = None
    try:
        if serves:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and b"listening on" not in (cwd / ".stderr").read_bytes():
                time.sleep(0.05)
            status = 0 if b"listening on" in (cwd / ".stderr").read_bytes() else None
        else:
            try:
                status = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                status = None
    finally:
        with contextlib.suppress(ProcessLookupError):  # the whole group, `serve ... &` included
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    return status, (cwd / ".stderr").read_text(errors="replace")


EXAMPLES = help_examples()


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_help_examples_run(command: str, tmp_path: Path) -> None:
    """Every example of the command's --help runs as written."""
    if not (BIN / "convo").exists():
        pytest.skip("the convo script is not installed beside this Python")
    _sandbox(tmp_path)
    ran = 0
    with Emulator(batch_delay=0) as url:
        env = {**os.environ, "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": url, "HOME": str(tmp_path / "home"),
               "BROWSER": "true",  # --open hands the page to `true`, not to a browser
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        if command in PRELUDE:
            assert _run(PRELUDE[command], tmp_path, env)[0] == 0
        for line in EXAMPLES[command]:
            if any(marker in line for marker in LEFT_OUT):
                continue
            if "| jq" in line and shutil.which("jq") is None:
                pytest.skip("jq is not installed here (CI installs it)")
            status, err = _run(line.replace("8123", str(_free_port())), tmp_path, env)
            assert status in (0, 1), f"{line!r} exited {status}:\n{err[-3000:]}"
            assert "Traceback" not in err, f"{line!r}:\n{err[-3000:]}"
            ran += 1
    assert ran >= 1


def test_examples_are_found() -> None:
    """The extraction itself: every command has examples, continuation lines joined."""
    assert {"validate", "transform", "convert", "fixtures", "stats", "run", "serve", "batch submit",
            "batch status", "batch results", "batch cancel"} <= set(EXAMPLES)
    assert any("migrate(model=" in x and "drop_images(" in x for x in EXAMPLES["transform"])


def readme_python_blocks() -> list[str]:
    """The Python blocks of the README's tour (the worked examples further down have tests of
    their own, beside the data they need)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = text[text.index("## A tour of the API"): text.index("## The command")]
    blocks, current, inside = [], [], False
    for line in text.splitlines():
        if line.startswith("```python"):
            inside, current = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(current))
        elif inside:
            current.append(line)
    return blocks


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's tour runs top to bottom (against a local emulator), bad lines and all."""
    from convo import Conversation, dumps_response
    from convo._samples import png
    from convo.executor import reply

    monkeypatch.chdir(tmp_path)
    Path("ant.jpg").write_bytes(png(8, 8, (200, 120, 40)))  # the media type is read from the bytes
    fx = (ROOT / "fixtures" / "transcripts.jsonl").read_bytes()
    Path("logs.jsonl.gz").write_bytes(gzip.compress(fx))  # it holds five broken lines
    Path("fixtures/cassettes").mkdir(parents=True)
    hello = Conversation(model="claude-opus-4-8", max_tokens=64).user("Hello")
    given = {
        "raw_bytes": dumps_response(reply(hello, "Hi!")),
        "openai_body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]},
        "convs": [hello, hello.user("And again")],
        "values": _exchanges(tmp_path / "runs.jsonl"),
    }
    blocks = readme_python_blocks()
    assert len(blocks) >= 6
    with Emulator() as url:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        namespace: dict[str, object] = {"__name__": "readme", **given}
        for i, block in enumerate(blocks):
            try:
                exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)  # noqa: S102 - the README's own code
            except Exception as e:
                pytest.fail(f"README python block {i + 1} raised {type(e).__name__}: {e}\n{block}")
    assert Path("out.jsonl").read_bytes().count(b"\n") == 195  # the five broken lines were skipped
