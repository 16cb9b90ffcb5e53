"""Headless output: table, csv, tsv or json on stdout."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

import pyarrow as pa


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def write_result(table: pa.Table, fmt: str, out: TextIO) -> None:
    names = table.column_names
    rows = [tuple(r.values()) for r in table.to_pylist()]
    if fmt == "json":
        json.dump([dict(zip(names, r, strict=True)) for r in rows], out, default=str)
        out.write("\n")
    elif fmt in ("csv", "tsv"):
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(names)
        writer.writerows(["" if v is None else v for v in r] for r in rows)
    else:
        cells = [[_cell(v) for v in r] for r in rows]
        widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
        line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        out.write(line + "\n")
        out.write("| " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + " |\n")
        out.write(line + "\n")
        for r in cells:
            out.write("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |\n")
        out.write(line + "\n")
        out.write(f"{len(rows)} row{'s' if len(rows) != 1 else ''}\n")
