"""deploy/gunicorn.conf.py's hooks, called as gunicorn calls them in a booted worker."""

from __future__ import annotations

import gc
import importlib.util
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def _conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "deploy/gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_booted_worker_freezes_what_it_loaded_out_of_the_collector():
    conf = _conf()
    gc.unfreeze()
    worker = SimpleNamespace(wsgi=lambda environ, start_response: [])
    try:
        conf.post_worker_init(worker)
        assert gc.get_freeze_count() > 10_000  # Django and the platform, loaded by this process
    finally:
        gc.unfreeze()
