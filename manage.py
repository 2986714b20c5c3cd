#!/usr/bin/env python
"""Django's command-line utility. `platform/` is a source root (see DESIGN.md), so it is put on
sys.path here: a fresh clone works with `python manage.py ...` and no extra flags."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    sys.path.insert(0, str(ROOT / "platform"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "franchise_platform.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
