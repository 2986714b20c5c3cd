"""Rotate encryption keys for the public schema and every network, with a progress bar; safe to
interrupt and re-run.

1. Put the new master key FIRST in PLATFORM_ENCRYPTION_KEYS, keep the old ones after it.
2. `manage.py rotate_encryption_keys [--new-data-key]` re-wraps every data key under the newest master
   key and (with --new-data-key) re-seals every secret under a fresh data key per schema: the public
   schema's (pending marketplace installs) first, then each network's.
3. When it reports every schema done, remove the old master key from the environment.
Running it again without --new-data-key resumes an interrupted run.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Case, When
from django_tenants.utils import get_public_schema_name, tenant_context

from franchise_platform.security.rotation import network_keys_rotate
from tenants.models import Network


def _bar(label: str) -> Any:
    def draw(done: int, total: int) -> None:
        width = 30
        filled = width if total == 0 else int(width * done / total)
        sys.stderr.write(f"\r{label:<24} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    return draw


class Command(BaseCommand):
    help = "Re-wrap data keys under the newest master key and optionally re-seal all secrets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new-data-key", action="store_true", help="start a new data key per network"
        )
        parser.add_argument(
            "--network", help="only this network's slug (`public`: only the public schema)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The public row first: its schema's keys must be rotated as well as every network's.
        networks = Network.objects.order_by(
            Case(When(schema_name=get_public_schema_name(), then=0), default=1), "pk"
        )
        if options["network"]:
            networks = networks.filter(slug=options["network"])
        for network in networks:
            with tenant_context(network):
                report = network_keys_rotate(
                    new_data_key=options["new_data_key"], progress=_bar(network.slug)
                )
            sys.stderr.write("\n")
            self.stdout.write(
                f"{network.slug}: {report.rewrapped_keys} data keys re-wrapped, "
                f"{report.resealed_rows} rows re-sealed"
                + (
                    f", now on data key v{report.new_data_key_version}"
                    if report.new_data_key_version
                    else ""
                )
            )
        self.stdout.write(self.style.SUCCESS("Rotation complete."))
