"""Create the demo network «ЧеЗаКвест?!» (slug chezaquest) once, fill it (franchise_platform/sandbox/
demo.py: shops, locations, the dummy CRM, deals in every state), and print how to log in."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from franchise_platform.sandbox.demo import DEMO_SLUG, WALK_LEAD_ID, demo_network_fill
from tenants.models import Network
from tenants.services import network_base_url, network_create

CREDENTIALS_FILE = Path(settings.REPO_DIR) / ".local" / "demo-login.txt"


class Command(BaseCommand):
    help = "Create the demo network and its owner if they do not exist yet; print the login."

    def handle(self, *args: Any, **options: Any) -> None:
        network = Network.objects.filter(slug=DEMO_SLUG).first()
        if network is None:
            password = "demo-" + secrets.token_urlsafe(9)
            created = network_create(
                name="ЧеЗаКвест?!",
                slug=DEMO_SLUG,
                owner_email="owner@chezaquest.example",
                owner_password=password,
            )
            network = created.network
            CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
            CREDENTIALS_FILE.write_text(
                f"email: {created.owner_email}\npassword: {password}\napi_token: {created.api_token}\n"
            )
            CREDENTIALS_FILE.chmod(0o600)
        if settings.DEMO_SANDBOX and demo_network_fill(network=network):
            self.stdout.write("Demo network filled: 3 shops, 4 locations, 5 deals.")
        self.stdout.write(f"Demo network panel: {network_base_url(network)}/panel/")
        if CREDENTIALS_FILE.exists():
            self.stdout.write("Owner login (also in .local/demo-login.txt):")
            self.stdout.write(CREDENTIALS_FILE.read_text())
        if settings.DEMO_SANDBOX:
            self.stdout.write(
                f"Sandbox deal card: {settings.PLATFORM_BASE_URL}/sandbox/?lead={WALK_LEAD_ID}"
            )
