"""The floor for reading a recipient CSV: Python's csv module alone, no number parsing, nothing stored.

python -m bench.csv_baseline customers.csv      # prints {"rows": …, "seconds": …, "peak_rss_mb": …}
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time

from bench.procs import peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description="csv.reader over a file, for `python -m bench`.")
    parser.add_argument("path")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = 0
    with open(args.path, newline="", encoding="utf-8") as f:
        for _ in csv.reader(f):
            rows += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"rows": rows - 1, "seconds": elapsed, "peak_rss_mb": peak_rss_mb(os.getpid())}), flush=True)


if __name__ == "__main__":
    main()
