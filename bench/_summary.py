"""The table ``make bench`` ends with: every ``BENCH|...`` line the scripts printed.

Line format (one figure per line, on a script's stdout; other lines are ignored):

    BENCH|<item>|<name>|<value>|<unit>|<target>

item: the issue item it belongs to (e.g. ``12.3``); name: what was measured; value: a number or
``nan``; unit: ``ms``, ``jobs/s``, ``s``, ``MB``...; target: ``<= N``, ``>= N`` or ``-``.
A new script joins the table by printing such lines (``_common.bench_line``); nothing here changes.

Run: python bench/_summary.py FILE... (or lines on stdin)
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

TARGET_RE = re.compile(r"^\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


def parse(lines: list[str]) -> list[list[str]]:
    rows = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.startswith("BENCH|"):
            continue
        parts = line.split("|")
        if len(parts) != 6:
            print(f"(ignored malformed line: {line!r})", file=sys.stderr)
            continue
        rows.append(parts[1:])
    return rows


def judge(value: str, target: str) -> str:
    match = TARGET_RE.match(target)
    if not match:
        return "-"
    try:
        number = float(value)
    except ValueError:
        return "n/a"
    if math.isnan(number):
        return "n/a"
    op, bound = match.group(1), float(match.group(2))
    ok = {"<=": number <= bound, ">=": number >= bound, "<": number < bound, ">": number > bound}[op]
    return "met" if ok else "MISSED"


def render(rows: list[list[str]]) -> str:
    header = ["item", "figure", "measured", "unit", "target", "verdict"]
    cells = [header] + [[item, name, value, unit, target, judge(value, target)] for item, name, value, unit, target in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    lines: list[str] = []
    if argv:
        for name in argv:
            lines += Path(name).read_text(errors="replace").splitlines()
    else:
        lines = sys.stdin.read().splitlines()
    rows = parse(lines)
    rows.sort(key=lambda r: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", r[0])])
    print(render(rows) if rows else "(no BENCH lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
