"""Emulator benchmark: requests/s of ``POST /v1/messages`` for plain, structured-output and
forced-tool requests, against a floor server, and optionally against another source tree.

Run: ``python benchmarks/emulator.py [--requests N] [--repeat R] [--threads T]
[--baseline DIR]``. Each server runs in its own process (``python -m convo.testing.emulator``,
with ``PYTHONPATH`` set to this checkout or to ``--baseline DIR``, e.g. an ``git archive`` of
main); the client sends the same seeded requests over keep-alive ``httpx`` connections from
``--threads`` threads. The floor is the same ``ThreadingHTTPServer`` that reads the body,
``orjson.loads`` it and answers one constant ``orjson.dumps``'d message: the HTTP and JSON cost
no emulator can avoid. ``ratio`` is req/s over the floor's req/s in the same run; each cell is
the median of ``--repeat`` rounds, every server once per round in turn, so a change in the
machine's load falls on all of them. Bytecode: convo's trees are compiled first
(``compileall``), since this machine sets PYTHONDONTWRITEBYTECODE=1.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
HEADERS = {"x-api-key": "bench", "anthropic-version": "2023-06-01"}
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
                   "email": {"type": "string", "format": "email"},
                   "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["name", "age", "email", "tags"], "additionalProperties": False,
}
TOOL = {"name": "lookup", "description": "Look up an order",
        "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"},
                                                          "limit": {"type": "integer"}},
                         "required": ["order_id"]}}


def bodies(kind: str, n: int) -> list[bytes]:
    """*n* distinct seeded requests (a system prompt and three turns, about 1 KB)."""
    out = []
    for i in range(n):
        req: dict[str, Any] = {
            "model": "claude-sonnet-4-5", "max_tokens": 512, "system": "You answer briefly. " * 8,
            "messages": [{"role": "user", "content": f"Question {i}: " + "what is up? " * 20},
                         {"role": "assistant", "content": "Not much. " * 10},
                         {"role": "user", "content": f"And now {i}? " + "tell me more. " * 10}],
        }
        if kind == "structured":
            req["output_config"] = {"format": {"type": "json_schema", "schema": SCHEMA}}
        elif kind == "forced tool":
            req["tools"] = [TOOL]
            req["tool_choice"] = {"type": "any"}
        out.append(orjson.dumps(req))
    return out


# --------------------------------------------------------------------------- the floor server

_REPLY = orjson.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                       "content": [{"type": "text", "text": "echo: hi", "citations": None}],
                       "stop_reason": "end_turn", "stop_sequence": None,
                       "usage": {"input_tokens": 5, "output_tokens": 3}})


_RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
             + str(len(_REPLY)).encode() + b"\r\n\r\n" + _REPLY)


class _Floor(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the emulator: one write per answer, no delayed-ACK stall

    def do_POST(self) -> None:
        orjson.loads(self.rfile.read(int(self.headers["content-length"])))
        self.wfile.write(_RESPONSE)

    def log_message(self, *args: Any) -> None:
        pass


def floor_main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Floor)
    server.daemon_threads = True
    sys.stderr.write(f"listening on http://127.0.0.1:{server.server_address[1]}\n")
    sys.stderr.flush()
    server.serve_forever()


# --------------------------------------------------------------------------- in-process cost


def direct_main(kinds: list[str], n: int, repeat: int) -> None:
    """Print, per kind, the best-of-*repeat* microseconds per request of the emulator's own work
    (routing, decoding, rules, the reply, its JSON) with no HTTP: ``Emulator._route``."""
    import timeit

    from convo.testing.emulator import Emulator, LoggedRequest

    emu = Emulator()
    headers = {**HEADERS}
    out = {}
    for kind in kinds:
        parsed = [orjson.loads(b) for b in bodies(kind, n)]

        def run(parsed: list[Any] = parsed) -> None:
            for body in parsed:
                entry = LoggedRequest("POST", "/v1/messages", {}, {}, body, 0.0, "req_1")
                reply = emu._route("POST", "/v1/messages", {}, headers, body, None, entry)
                assert reply.status == 200

        run()
        out[kind] = min(timeit.repeat(run, number=1, repeat=repeat)) / n * 1e6
    print(orjson.dumps(out).decode())


def direct(tree: Path, kinds: list[str], n: int, repeat: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--direct", ",".join(kinds), "--requests",
                           str(n), "--repeat", str(repeat)], env=env, capture_output=True,
                          text=True, check=True)
    result: dict[str, float] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- running


class Server:
    def __init__(self, name: str, argv: list[str], pythonpath: Path | None) -> None:
        env = {**os.environ}
        if pythonpath is not None:
            env["PYTHONPATH"] = str(pythonpath)
        self.name = name
        self.proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        self.url = "http://" + line.split("http://")[1].split()[0]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def send_all(url: str, payloads: list[bytes], threads: int) -> float:
    """Requests per second sending *payloads* from *threads* threads, one connection each."""
    parts = [payloads[i::threads] for i in range(threads)]
    errors: list[str] = []

    def work(part: list[bytes]) -> None:
        with httpx.Client(base_url=url, headers={**HEADERS, "content-type": "application/json"},
                          timeout=30) as c:
            for p in part:
                r = c.post("/v1/messages", content=p)
                if r.status_code != 200:
                    errors.append(r.text[:200])

    workers = [threading.Thread(target=work, args=(p,)) for p in parts]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    return len(payloads) / wall


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=600)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--baseline", type=Path, default=None,
                   help="another source tree (e.g. main's) whose emulator runs beside this one")
    p.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--direct", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.floor_server:
        floor_main()
        return
    if args.direct:
        direct_main(args.direct.split(","), args.requests, args.repeat)
        return
    trees = [("this", ROOT)] + ([("baseline", args.baseline)] if args.baseline else [])
    for _, tree in trees:
        compileall.compile_dir(str(tree / "convo"), quiet=1)
    emu = [sys.executable, "-m", "convo.testing.emulator", "--port", "0"]
    servers = [Server("floor (http.server + orjson)", [sys.executable, __file__, "--floor-server"],
                      None)]
    servers += [Server(f"emulator, {name}", emu, tree) for name, tree in trees]
    cases = [("plain", s) for s in servers] + [
        (kind, s) for kind in ("structured", "forced tool") for s in servers[1:2]]
    if args.baseline:
        cases.append(("forced tool", servers[2]))
    payloads = {kind: bodies(kind, args.requests) for kind in ("plain", "structured", "forced tool")}
    print(f"load before: {load()}; {args.requests} requests x {args.repeat} rounds, "
          f"{args.threads} client threads; Python {sys.version.split()[0]}")
    results: dict[tuple[str, str], list[float]] = {(k, s.name): [] for k, s in cases}
    try:
        for (kind, server) in cases:  # warm-up: imports, caches, connections
            send_all(server.url, payloads[kind][:50], args.threads)
        for _ in range(args.repeat):
            for kind, server in cases:
                results[(kind, server.name)].append(send_all(server.url, payloads[kind],
                                                             args.threads))
    finally:
        for s in servers:
            s.close()
    floor = statistics.median(results[("plain", servers[0].name)])
    print("\n| request | server | req/s (median) | spread | ratio to floor |")
    print("|---|---|---:|---|---:|")
    for (kind, name), runs in results.items():
        med = statistics.median(runs)
        print(f"| {kind} | {name} | {med:,.0f} | {min(runs):,.0f}-{max(runs):,.0f} | "
              f"{med / floor:.2f} |")
    print(f"\nload after: {load()}")
    kinds = ["plain", "structured", "forced tool"]
    print("\nThe emulator's own work per request, no HTTP (Emulator._route; best of "
          f"{args.repeat * 2} runs of {args.requests}; floor: orjson.loads + orjson.dumps of the "
          "same bytes):")
    floor_us = min(timeit_floor(payloads["plain"]) for _ in range(args.repeat * 2))
    print("\n| request | tree | us/request | ratio to floor |")
    print("|---|---|---:|---:|")
    print(f"| plain | orjson floor | {floor_us:.1f} | 1.00 |")
    rounds = [{name: direct(tree, kinds, args.requests, 3) for name, tree in trees}
              for _ in range(args.repeat)]
    for kind in kinds:
        for name, _ in trees:
            us = min(r[name][kind] for r in rounds)
            print(f"| {kind} | {name} | {us:.1f} | {us / floor_us:.1f} |")
    print(f"\nload at the end: {load()}")


def timeit_floor(payloads: list[bytes]) -> float:
    t0 = time.perf_counter()
    for p in payloads:
        orjson.dumps(orjson.loads(p))
    return (time.perf_counter() - t0) / len(payloads) * 1e6


if __name__ == "__main__":
    main()
