"""Export a result: CSV, JSON (one object per row) or Parquet, chosen by the file's extension."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

FORMATS = (".csv", ".json", ".parquet")


def export(table: pa.Table, path: str) -> Path:
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix == ".csv":
        pa_csv.write_csv(table, target)
    elif suffix == ".parquet":
        pq.write_table(table, target)
    elif suffix == ".json":
        with open(target, "w", encoding="utf-8") as f:
            json.dump(table.to_pylist(), f, default=str)
    else:
        raise ValueError(f"choose a file ending in {', '.join(FORMATS)}")
    return target
