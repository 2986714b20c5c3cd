"""Create the demo network «ЧеЗаКвест?!» (slug chezaquest) once, and print how to log in."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.models import Network
from tenants.services import network_base_url, network_create

CREDENTIALS_FILE = Path(settings.REPO_DIR) / ".local" / "demo-login.txt"


class Command(BaseCommand):
    help = "Create the demo network and its owner if they do not exist yet; print the login."

    def handle(self, *args: Any, **options: Any) -> None:
        network = Network.objects.filter(slug="chezaquest").first()
        if network is None:
            password = "demo-" + secrets.token_urlsafe(9)
            created = network_create(
                name="ЧеЗаКвест?!",
                slug="chezaquest",
                owner_email="owner@chezaquest.example",
                owner_password=password,
            )
            network = created.network
            CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
            CREDENTIALS_FILE.write_text(
                f"email: {created.owner_email}\npassword: {password}\napi_token: {created.api_token}\n"
            )
            CREDENTIALS_FILE.chmod(0o600)
        self.stdout.write(f"Demo network panel: {network_base_url(network)}/panel/")
        if CREDENTIALS_FILE.exists():
            self.stdout.write("Owner login (also in .local/demo-login.txt):")
            self.stdout.write(CREDENTIALS_FILE.read_text())
