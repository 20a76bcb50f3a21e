"""Run every benchmark in turn and print its figures beside its baseline (``make bench``).

    python -m bench.run_all [--quick]

--quick uses small sizes (a minute or two); the default sizes are those the targets name (1,000,000 entries for
verification and history reads; the build of those stores is cached under bench/out/ and takes a while the first
time). PostgreSQL figures are added when LVYUE_DATABASE_URL names a server.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(title: str, args: list[str]) -> None:
    print(f"\n== {title} ==", flush=True)
    subprocess.run([sys.executable, *args], cwd=HERE.parent, check=False)


def main() -> None:
    """Run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    quick = parser.parse_args().quick
    _run(
        "append (bench/append.py)",
        ["-m", "bench.append", *(["--single", "1000", "--batched", "5000"] if quick else [])],
    )
    _run(
        "bundle verification (bench/verify_bundle.py)",
        ["bench/verify_bundle.py", "--entries", "20000" if quick else "1000000"],
    )
    _run(
        "credit history reads and reports (bench/history_read.py)",
        ["bench/history_read.py", "--entries", "20000" if quick else "1000000"],
    )
    _run("projection lag (bench/projection_lag.py)", ["bench/projection_lag.py", "--seconds", "5" if quick else "20"])
    for writers in ("10", "16", "32"):
        _run(
            f"HTTP API under load, {writers} submitting connections (bench/api_load.py)",
            [
                "bench/api_load.py",
                "--writers",
                writers,
                "--seconds",
                "10" if quick else "20",
            ],
        )


if __name__ == "__main__":
    main()
