"""`make bench`: run every benchmark (or those named in BENCH_ARGS) and write bench/results/*.json."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "networks": "bench.networks",
    "lifecycle": "bench.lifecycle",
    "signup": "bench.signup",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "names", nargs="*", default=list(BENCHMARKS), help=f"any of {sorted(BENCHMARKS)}"
    )
    args = parser.parse_args()
    for name in args.names:
        importlib.import_module(BENCHMARKS[name]).run()


if __name__ == "__main__":
    main()
