"""`stop_processes` (scripts/lib.sh), what Ctrl-C on `make run` calls: a warm stop first, then a
kill, named in the log, of whatever ignores it past the grace period, its children included."""

from __future__ import annotations

import subprocess

from tests.deploy.support import ROOT

SCRIPT = r"""
source scripts/lib.sh
sleep 300 & polite=$!
# Ignores SIGTERM, like a worker stuck in a task, and has a child of its own.
bash -c 'trap "" TERM; sleep 300 & echo "child $!"; wait' & stubborn=$!
until [ -n "$(cat /proc/$stubborn/task/*/children 2>/dev/null)" ]; do sleep 0.05; done
cat /proc/$stubborn/task/*/children
stop_processes 1 "$polite" "$stubborn"
wait
for pid in "$polite" "$stubborn"; do kill -0 "$pid" 2>/dev/null && echo "alive $pid"; done
echo "done $polite $stubborn"
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_and_named() -> None:
    done = subprocess.run(
        ["bash", "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )

    lines = done.stdout.splitlines()
    assert not [line for line in lines if line.startswith("alive")], done.stdout
    child = int(next(line for line in lines if line.startswith("child")).split()[1])
    assert not _alive(child), "the stubborn process's child outlived it"
    killed = [line for line in lines if "still running after 1 s, killed:" in line]
    assert len(killed) == 1 and "trap" in killed[0], done.stdout  # only the stubborn one, by name


def test_processes_that_stop_by_themselves_are_not_killed() -> None:
    done = subprocess.run(
        ["bash", "-c", "source scripts/lib.sh; sleep 300 & stop_processes 20 $!; echo rc=$?"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert done.stdout.strip().endswith("rc=0")
    assert "killed" not in done.stdout
