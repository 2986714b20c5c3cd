"""Print the part of requirements.lock the image needs: the runtime dependencies and theirs.

requirements.lock is one lock for development and production (``make lock``: uv with the dev
extra), with hashes. The image must not carry pytest, mypy or the linters, and must not resolve
anything anew either; so this keeps the lock's own entries (pins and hashes untouched) for the
packages reachable from ``[project].dependencies`` through uv's ``# via`` annotations, and drops
the rest. ``pip install --no-deps --require-hashes`` then installs exactly those, and
``pip check`` in the Dockerfile (and in tests/deploy) proves nothing is missing.

Usage: python deploy/runtime_requirements.py requirements.lock pyproject.toml > runtime.lock
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections import defaultdict, deque
from pathlib import Path

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==")
_PROJECT = "(pyproject.toml)"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Blocks of the lock by package, and each package's requirers (from "# via")."""
    blocks: dict[str, list[str]] = {}
    via: dict[str, set[str]] = defaultdict(set)
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        match = _NAME.match(line)
        if match:
            current = normalize(match.group(1))
            blocks[current] = [line]
            in_via = False
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("--hash") or stripped.startswith("--"):
            blocks[current].append(line)
        elif stripped.startswith("# via"):
            rest = stripped[len("# via") :].strip()
            in_via = not rest
            if rest and not rest.endswith(_PROJECT):
                via[current].add(normalize(rest))
        elif in_via and stripped.startswith("#"):
            requirer = stripped.lstrip("#").strip()
            if requirer and not requirer.endswith(_PROJECT):
                via[current].add(normalize(requirer.split()[0]))
        else:
            in_via = False
    return blocks, via


def runtime_roots(pyproject: str) -> list[str]:
    deps = tomllib.loads(pyproject)["project"]["dependencies"]
    return [normalize(re.split(r"[\[<>=!~;\s]", dep, maxsplit=1)[0]) for dep in deps]


def runtime_closure(lock: str, pyproject: str) -> list[str]:
    blocks, via = parse_lock(lock)
    children: dict[str, set[str]] = defaultdict(set)
    for child, parents in via.items():
        for parent in parents:
            children[parent].add(child)
    seen: set[str] = set()
    queue = deque(runtime_roots(pyproject))
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        if name not in blocks:
            raise SystemExit(f"{name} is a runtime dependency but is not in the lock")
        seen.add(name)
        queue.extend(children[name] - seen)
    return [name for name in blocks if name in seen]


def main(argv: list[str]) -> int:
    lock_path, pyproject_path = (Path(p) for p in argv[1:3])
    lock = lock_path.read_text()
    names = runtime_closure(lock, pyproject_path.read_text())
    blocks, _ = parse_lock(lock)
    print(f"# Runtime subset of {lock_path.name} ({len(names)} packages), by {Path(__file__).name}")
    for name in names:
        print("\n".join(blocks[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
