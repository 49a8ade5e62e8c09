"""``membench export``: runs' probes as one table (CSV, JSON Lines or Parquet), for a spreadsheet, a
notebook or a database.

The table is ``analysis.frames.probes_frame`` (the one ``membench.load_runs`` returns); this module
only picks the format, renders it and writes it whole: every run is read before a byte is written,
and a file is replaced in one rename, so a bad run leaves no half-written output.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from membench.core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "jsonl", "parquet")

#: what ``--help`` says above the options (its examples are ``cli.help``'s, as for every command).
DESCRIPTION = """Write one row per probe of the runs named (their latest record per probe):
run_id task system reader judge, the probe's ids, kind, status, answer,
score_label and error, then labels.*, values.*, latency_s.* and
usage.<role>.calls/tokens/cost_usd columns."""


def add_parser(sub: Any) -> None:
    export = sub.add_parser(
        "export",
        help="write runs' probes as one table: csv, jsonl or parquet",
        description=DESCRIPTION,
    )
    export.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (or quoted globs of them)"
    )
    export.add_argument(
        "--format", choices=FORMATS, help="csv, jsonl or parquet (default: --out's suffix, else csv)"
    )
    export.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="file to write, replaced whole (default: stdout; parquet needs a file)",
    )


def cmd_export(args: argparse.Namespace) -> int:
    from membench.analysis.frames import find_runs, probes_frame

    kind = export_format(args.format, args.out)
    if kind == "parquet":
        _require_pyarrow()
        if args.out is None:
            raise ConfigError("--format parquet writes a binary file: give --out PATH")
    runs = find_runs(args.run_dirs)
    frame = probes_frame(runs)
    payload = render(frame, kind)
    if args.out is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return 0
    from membench.core.records import write_atomic

    write_atomic(args.out, payload)
    print(f"wrote {len(frame)} probes of {len(runs)} run(s) to {args.out} ({kind})")
    return 0


def export_format(given: str | None, out: Path | None) -> str:
    """The format asked for, else the one ``out``'s suffix names (``probes.parquet``), else csv."""
    if given:
        return given
    suffix = out.suffix.lstrip(".").lower() if out else ""
    return suffix if suffix in FORMATS else "csv"


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "--format parquet needs pyarrow: pip install 'membench[official]' (or the dev extra)"
        ) from exc


def render(frame: pd.DataFrame, kind: str) -> bytes:
    """``frame`` as a whole file of ``kind``: CSV with a header, one JSON object per line (every column,
    null where absent, floats at full precision), or Parquet."""
    if kind == "csv":
        return str(frame.to_csv(index=False)).encode("utf-8")
    if kind == "jsonl":
        lines = (
            json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False, allow_nan=False)
            for row in frame.to_dict(orient="records")
        )
        return "".join(line + "\n" for line in lines).encode("utf-8")
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """NaN (pandas' absent number) as JSON null."""
    return None if isinstance(value, float) and math.isnan(value) else value
