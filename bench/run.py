"""`make bench`: run every benchmark (or those named in BENCH_ARGS) and write bench/results/*.json."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "networks": "bench.networks",
    "lifecycle": "bench.lifecycle",
    # The same flows through `make run`'s own server (scripts/entrypoint.sh all).
    "run": "bench.lifecycle:run_as_make_run",
    "signup": "bench.signup",
    # Issue 18: the dashboard's p95 and the exports on 100,000 paid deals.
    "dashboard": "bench.dashboard",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "names", nargs="*", default=list(BENCHMARKS), help=f"any of {sorted(BENCHMARKS)}"
    )
    args = parser.parse_args()
    for name in args.names:
        module, _, function = BENCHMARKS[name].partition(":")
        getattr(importlib.import_module(module), function or "run")()


if __name__ == "__main__":
    main()
