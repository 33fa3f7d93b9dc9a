"""Compare the results.json of two report folders (or two demo folders) number by number.

A refactor must not change what genlens measures. Run the demo (or a report) before and after, then:

    python scripts/compare_reports.py OLD_DIR NEW_DIR [--rtol 1e-6]

Every ``results.json`` under OLD_DIR is matched with the same path under NEW_DIR; numbers must agree
to ``rtol`` (relative) or ``atol`` (absolute, for values near zero), strings and structure exactly,
except for keys that name when or where a file was written (``generated``, ``path``, ``version``,
figure file names). Prints each difference and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

#: Keys whose values differ between two runs by design.
IGNORED = {"generated", "generated_at", "version", "genlens_version", "path", "created", "seconds", "elapsed"}


def differences(old: Any, new: Any, where: str, rtol: float, atol: float) -> list[str]:
    """Every place where ``new`` differs from ``old`` beyond the tolerances."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = [f"{where}: key {k!r} only in old" for k in old.keys() - new.keys() if k not in IGNORED]
        out += [f"{where}: key {k!r} only in new" for k in new.keys() - old.keys() if k not in IGNORED]
        for key in old.keys() & new.keys():
            if key not in IGNORED:
                out += differences(old[key], new[key], f"{where}.{key}", rtol, atol)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{where}: length {len(old)} -> {len(new)}"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{where}[{i}]", rtol, atol)]
    if isinstance(old, (int, float)) and isinstance(new, (int, float)) and not isinstance(old, bool):
        if math.isnan(old) and math.isnan(new):
            return []
        return [] if math.isclose(old, new, rel_tol=rtol, abs_tol=atol) else [f"{where}: {old!r} -> {new!r}"]
    return [] if old == new else [f"{where}: {str(old)[:80]!r} -> {str(new)[:80]!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--atol", type=float, default=1e-9)
    parser.add_argument("--skip", action="append", default=[], help="a sub-folder to leave out (repeatable)")
    args = parser.parse_args()
    found = 0
    problems: list[str] = []
    for old_file in sorted(args.old.rglob("results.json")):
        rel = old_file.relative_to(args.old)
        if rel.parts[0] in args.skip:
            continue
        new_file = args.new / rel
        found += 1
        if not new_file.exists():
            problems.append(f"{rel}: missing in {args.new}")
            continue
        problems += [f"{rel}: {d}" for d in differences(json.loads(old_file.read_text()),
                                                          json.loads(new_file.read_text()), "", args.rtol, args.atol)]
    for line in problems:
        print(line)
    print(f"{found} results.json compared, {len(problems)} difference(s)")
    return 1 if problems or not found else 0


if __name__ == "__main__":
    sys.exit(main())
