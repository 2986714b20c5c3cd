"""`make run` never runs on a SECRET_KEY anyone can read: the development key is generated once
into the git-ignored `.local/` and kept there; only the test suite has a constant of its own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from franchise_platform.settings.local_secrets import local_secret_key

ROOT = Path(__file__).resolve().parents[2]
OLD_CONSTANT = "dev-only-insecure-secret-key-change-me"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    return {**env, **extra}


def _dev_secret_key() -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.SECRET_KEY)",
        ],
        cwd=ROOT,
        env=_env(
            DJANGO_SETTINGS_MODULE="franchise_platform.settings.dev",
            PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_dev_settings_use_the_generated_key_never_a_constant():
    first = _dev_secret_key()
    second = _dev_secret_key()

    assert first == second == (ROOT / ".local" / "secret-key").read_text().strip()
    assert first != OLD_CONSTANT and len(first) >= 50
    settings_sources = (ROOT / "platform" / "franchise_platform" / "settings").glob("*.py")
    assert not any(OLD_CONSTANT in path.read_text() for path in settings_sources)


def test_the_generated_key_is_not_in_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".local/secret-key"], cwd=ROOT)
    tracked = subprocess.run(
        ["git", "ls-files", ".local"], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert ignored.returncode == 0
    assert tracked.stdout == ""


def test_a_missing_key_is_generated_once_private_and_kept(tmp_path):
    path = tmp_path / ".local" / "secret-key"

    key = local_secret_key(path)

    assert local_secret_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 50
    assert list(path.parent.iterdir()) == [path]  # no candidate file left behind


def test_processes_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "secret-key"
    start = threading.Barrier(8)
    keys: list[str] = []

    def generate() -> None:
        start.wait(timeout=10)
        keys.append(local_secret_key(path))

    threads = [threading.Thread(target=generate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(keys) == 8 and len(set(keys)) == 1


def test_make_run_exports_the_same_key_on_every_run(tmp_path):
    """scripts/lib.sh `ensure_local_keys`, as `make run` and `make setup` call it."""
    script = (
        f'source "{ROOT}/scripts/lib.sh"; ROOT="{tmp_path}"; ensure_local_keys >/dev/null; '
        'printf "%s" "$SECRET_KEY"'
    )
    env = _env(PY=sys.executable)
    env.pop("PLATFORM_ENCRYPTION_KEYS", None)

    def run() -> str:
        done = subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first, second = run(), run()

    assert first == second == (tmp_path / ".local" / "secret-key").read_text().strip()
    assert len(first) >= 50
    assert stat.S_IMODE((tmp_path / ".local" / "secret-key").stat().st_mode) == 0o600


def test_dev_settings_never_sign_widget_tokens_with_the_published_placeholder():
    from django.conf import settings

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.AMOCRM_CLIENT_SECRET)",
        ],
        cwd=ROOT,
        env={
            **_env(
                DJANGO_SETTINGS_MODULE="franchise_platform.settings.dev",
                PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
            ),
            "AMOCRM_CLIENT_SECRET": "",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    secret = result.stdout.strip().splitlines()[-1]
    assert secret != settings.AMOCRM_CLIENT_SECRET_PLACEHOLDER and len(secret) >= 50
    assert secret == (ROOT / ".local" / "amocrm-client-secret").read_text().strip()
