"""Time how fast the reader refuses hostile uploads (issue 14); print figures (no assertions).

Run from the repository root:  python benchmarks/bench_hostile.py

Cases
-----
1. A zip bomb: a 1.4 MB ``.xlsx`` whose first sheet declares 200 MB of XML (3 million rows of
   a repeated cell), streamed through :mod:`zipfile` at deflate level 1, never written out
   uncompressed. Refused from the ZIP directory's declared sizes before any XML is parsed.
   Before the limit: 243 s of CPU and 1.1 GB. Target: under 1 s.
2. A 10,000-column CSV (one date column and 10,000 price columns of 60 rows, about 5 MB, the
   size of the audit's file). Refused from its first lines. Before: 63 s on the Data page.
   Target: a few seconds at most.
3. A 1,999-column CSV of 1,000 rows (18 MB; under the column limit, over the 200-asset limit):
   refused from its header line, before the file is split into cells (4.6 s when it was
   refused after splitting).
4. For scale: every daily real upload plus the 14 Yahoo files (25 files) read and merged.

Each case reports the best and median of several runs (:func:`time.perf_counter`).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskcore.ingest import load_files  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"


def zip_bomb(declared_bytes: int = 200_000_000) -> bytes:
    base = io.BytesIO()
    pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=3), "Close": [1.0, 2.0, 3.0]}
                 ).to_excel(base, index=False)
    row = b'<row><c t="inlineStr"><is><t>2024-01-01</t></is></c><c><v>1</v></c></row>'
    chunk = row * (8_000_000 // len(row))
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item.filename))
                continue
            with dst.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.'
                            b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                for _ in range(declared_bytes // len(chunk)):
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def wide_csv(n_columns: int, n_rows: int) -> bytes:
    dates = [f"{d:%Y-%m-%d}" for d in pd.date_range("2024-01-01", periods=n_rows)]
    header = "Date," + ",".join(f"COIN{j}-USD" for j in range(n_columns))
    body = "".join(f"{d}," + ",".join(["12345.67"] * n_columns) + "\n" for d in dates)
    return (header + "\n" + body).encode()


def measure(label: str, files: list[tuple[str, bytes]], repeat: int = 5) -> None:
    result = load_files(files)  # warm-up, and the message shown to the user
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        load_files(files)
        times.append(time.perf_counter() - start)
    size = sum(len(raw) for _, raw in files) / 1e6
    outcome = result.errors[0][1] if result.errors else f"read: panel {result.prices.shape}"
    print(f"{label:<44} {size:6.1f} MB  best {min(times):7.3f} s  "
          f"median {statistics.median(times):7.3f} s")
    print(f"    -> {outcome[:150]}")


def main() -> None:
    start = time.perf_counter()
    bomb = zip_bomb()
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        declared = sum(i.file_size for i in archive.infolist())
    print(f"zip bomb built in {time.perf_counter() - start:.1f} s: {len(bomb) / 1e6:.1f} MB "
          f"declaring {declared / 1e6:.0f} MB")
    measure("zip bomb .xlsx (200 MB declared)", [("bomb.xlsx", bomb)])
    measure("10,000-column CSV", [("wide10k.csv", wide_csv(10_000, 60))])
    measure("1,999-column CSV (over 200 assets)", [("wide1999.csv", wide_csv(1_999, 1_000))])
    uploads = [(p.name, p.read_bytes()) for p in sorted((DATA / "uploads").iterdir())
               if "-1h-" not in p.name]
    yahoo = [(p.name, p.read_bytes()) for p in sorted((DATA / "yahoo-daily").glob("*.csv"))]
    measure("real: 11 daily uploads + 14 Yahoo files", uploads + yahoo, repeat=3)


if __name__ == "__main__":
    main()
