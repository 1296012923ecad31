"""``drop_unknown_fields`` benchmark: its cost per conversation on the 41-message request of
``benchmarks/validate.py``, clean and with 3 unknown keys, against raw orjson (the floor).

Run: ``python benchmarks/drop_unknown.py [--repeat R] [--number N]``. Prints a table.

The "3 unknown keys" request is the same request with ``x_trace_id`` at the top level, a key in
the first assistant turn's thinking block and one in the first tool. Rows, each timed in the same
run (median of ``--repeat`` runs of ``--number`` calls; ratio = row / raw orjson loads of the
clean bytes):

- **raw orjson loads**: the floor;
- **drop_unknown_fields, value read**: the transform on a value loaded once and read (its turns
  built): the closed-world walk (``validate``'s ``schema.*`` part) plus the removals (with 3
  unknown keys, about half of the extra time is the walk's hints: ``difflib`` close matches);
- **migrate: its own edits** / **migrate**: ``migrate(model="claude-opus-4-8")`` without the
  removal step (what it cost before it ran ``drop_unknown_fields``) and with it;
- **loads** / **loads + drop_unknown_fields**: a fresh ``convo.loads`` (lazy turns) each call,
  alone and followed by the transform (which judges an unbuilt turn from its parsed blocks, and
  builds a copy only of one whose verdict says maybe).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from validate import _time, make_request  # the same request, the same timer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--number", type=int, default=300)
    args = p.parse_args(argv)

    import convo
    from convo import transforms as t
    from convo.transforms._base import NULL_LOG

    clean = make_request()
    dirty = orjson.loads(orjson.dumps(clean))
    dirty["x_trace_id"] = "trace-0042"
    dirty["messages"][1]["content"][0]["x_block_meta"] = {"origin": "newer-api"}
    dirty["tools"][0]["x_tool_flag"] = True
    bodies = {"clean": orjson.dumps(clean), "3 unknown keys": orjson.dumps(dirty)}
    drop = t.drop_unknown_fields()
    migrate = t.migrate(model="claude-opus-4-8")
    rewrite: Any = migrate._rewrite  # type: ignore[attr-defined]

    values = {}
    for name, body in bodies.items():
        conv = convo.loads(body)
        _ = [m.content for m in conv.messages]  # read: every turn built
        out, changes = drop.explain(conv)
        assert len(changes) == (0 if name == "clean" else 3), changes
        assert convo.validate(out).ok and convo.dumps(out) == convo.dumps(convo.loads(bodies["clean"]))
        values[name] = conv

    floor_body = bodies["clean"]
    rows: list[tuple[str, Callable[[], Any]]] = []
    for name, body in bodies.items():
        conv = values[name]
        rows += [
            (f"drop_unknown_fields, value read ({name})", lambda conv=conv: drop(conv)),
            (f"migrate: its own edits ({name})", lambda conv=conv: rewrite(conv, NULL_LOG)),
            (f"migrate ({name})", lambda conv=conv: migrate(conv)),
            (f"loads ({name})", lambda body=body: convo.loads(body)),
            (f"loads + drop_unknown_fields ({name})", lambda body=body: drop(convo.loads(body))),
        ]
    for _, fn in rows:  # warm up (schema, profiles, plans)
        fn()
    floor = _time(lambda: orjson.loads(floor_body), args.number, args.repeat)
    load = os.getloadavg()
    print(f"drop_unknown_fields on a 41-message request ({len(floor_body):,} bytes clean); Python "
          f"{sys.version.split()[0]}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"median of {args.repeat} x {args.number} calls")
    print()
    print("| what | µs per call | ratio to raw orjson loads |")
    print("|---|---:|---:|")
    print(f"| raw orjson loads (floor) | {floor * 1e6:.1f} | 1.00 |")
    for name, fn in rows:
        s = _time(fn, args.number, args.repeat)
        print(f"| {name} | {s * 1e6:.1f} | {s / floor:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
