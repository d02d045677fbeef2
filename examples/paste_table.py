"""Paste a table that results_table.py wrote into a page of docs/, between its markers.

    python paste_table.py ../docs/results.md report results/cpu64/results.md

replaces what lies between the lines `<!-- report -->` and `<!-- /report -->` of the page with the table,
its headings moved one level down (`### Methods` becomes `#### Methods`, under the page's own `###`), so
that the page shows the numbers the command printed and nothing typed by hand. The page is rewritten
whole or not at all.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from example_files import write_text


def paste(page: str, marker: str, table: str, shift: int = 1) -> str:
    """`page` with the text between `<!-- marker -->` and `<!-- /marker -->` replaced by `table`."""
    start, end = f"<!-- {marker} -->\n", f"<!-- /{marker} -->"
    if page.count(start) != 1 or page.count(end) != 1 or page.index(start) > page.index(end):
        raise ValueError(f"needs the lines '{start.strip()}' and '{end}', once each and in that order")
    table = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + shift) + " ", table.strip("\n"), flags=re.M)
    before, rest = page.split(start)
    after = rest[rest.index(end):]
    return f"{before}{start}{table}\n{after}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the page of docs/ to paste into")
    parser.add_argument("marker", help="the name in its <!-- NAME --> ... <!-- /NAME --> lines")
    parser.add_argument("table", type=Path, help="a table made by results_table.py (or criteria_table.py)")
    parser.add_argument("--shift", type=int, default=1, help="levels to move the table's headings down")
    args = parser.parse_args()
    try:
        page = paste(args.page.read_text(), args.marker, args.table.read_text(), args.shift)
    except (OSError, ValueError) as exc:
        print(f"paste_table.py: {args.page}: {exc}", file=sys.stderr)
        raise SystemExit(2)
    write_text(args.page, page)
    print(f"{args.page}: '{args.marker}' is now {args.table}")


if __name__ == "__main__":
    main()
