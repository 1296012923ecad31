"""False positives of scrub_secrets()'s detectors on the whole shared realworld tree (issue 16).

    python benchmarks/scrub_realworld.py            # counts by detector, and a masked sample
    python benchmarks/scrub_realworld.py --pii      # the PII detectors too

Every string of every JSON value in ``../shared/realworld`` (keys and values; JSON files, JSONL
and SSE lines, the JSON inside the .eval archives, any other file as one text) goes through the
scanner as ``scrub_secrets()`` applies it: the detectors on the string, and for a string under a
sensitive JSON key (``"password"``, ``"api_key"``) the key's context. The table counts strings
flagged and hits, by detector. The tree holds public test data, so every hit is a false
positive or a published (example) credential; the sample, with each hit masked and a little
context, is what a person reviews. Nothing here prints a hit whole.
"""

from __future__ import annotations

import argparse
import collections
import random
from pathlib import Path

from scrub import realworld_strings_by_file  # benchmarks/scrub.py

from convo.transforms.secrets import DETECTORS, PII_DETECTORS, Scanner, mask


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pii", action="store_true", help="add the email and phone detectors")
    ap.add_argument("--sample", type=int, default=8, help="hits shown per detector")
    args = ap.parse_args()
    scanner = Scanner((*DETECTORS, *PII_DETECTORS) if args.pii else DETECTORS)
    strings = hits = 0
    flagged: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    samples: dict[str, list[str]] = collections.defaultdict(list)
    for path, items in realworld_strings_by_file():
        for key, s in items:
            strings += 1
            found = scanner.find(s)
            if not found and key is not None:
                whole = scanner.keyed_value(key, s)
                found = [whole] if whole is not None else []
            for name in {f.detector for f in found}:
                flagged[name] += 1
            for f in found:
                hits += 1
                count[f.detector] += 1
                before = s[max(0, f.start - 40) : f.start].replace("\n", "\\n")
                after = s[f.end : f.end + 30].replace("\n", "\\n")
                where = f"{path}" + (f" (under key {key!r})" if key is not None and f.start == 0 and f.end == len(s) else "")
                samples[f.detector].append(f"{where}: …{before}<{mask(s[f.start:f.end])}>{after}…")
    print(f"{strings:,} strings scanned in {Path(__file__).parents[1].parent / 'shared' / 'realworld'}; "
          f"{sum(flagged.values()):,} flagged, {hits:,} hits")
    print(f"{'detector':<22} {'strings':>8} {'hits':>6}")
    for d in scanner.detectors:
        print(f"{d.name:<22} {flagged[d.name]:>8} {count[d.name]:>6}")
    rng = random.Random(16)
    for name, lines in samples.items():
        shown = lines if len(lines) <= args.sample else rng.sample(lines, args.sample)
        print(f"\n{name} ({len(lines)} hits; {len(shown)} shown):")
        for line in shown:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
