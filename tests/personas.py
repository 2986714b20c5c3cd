"""Personas across networks, reused by every test: an owner, an admin and a viewer per network."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from franchise_platform.accounts.models import Role, User
from franchise_platform.accounts.services import api_token_create, user_create
from tenants.models import Network
from tenants.services import network_create, network_host

PASSWORD = "Correct-Horse-Battery-9"


@dataclass
class Persona:
    email: str
    password: str
    role: str
    api_token: str
    network: Network = field(repr=False)

    @property
    def host(self) -> str:
        return network_host(self.network)

    def user(self) -> User:
        with tenant_context(self.network):
            return User.objects.get(email=self.email)

    def api(self) -> Client:
        """A Django test client on the network's host with this persona's Bearer token."""
        return Client(HTTP_HOST=self.host, HTTP_AUTHORIZATION=f"Bearer {self.api_token}")

    def browser_client(self, *, logged_in: bool = True) -> Client:
        client = Client(HTTP_HOST=self.host)
        if logged_in:
            # Sessions live in the network's schema, so the login is written there.
            with tenant_context(self.network):
                client.force_login(User.objects.get(email=self.email))
        return client


@dataclass
class PersonaNetwork:
    network: Network
    owner: Persona
    admin: Persona
    viewer: Persona

    @property
    def host(self) -> str:
        return network_host(self.network)

    def anonymous(self) -> Client:
        return Client(HTTP_HOST=self.host)


def make_persona_network(slug: str, name: str) -> PersonaNetwork:
    created = network_create(
        name=name, slug=slug, owner_email=f"owner@{slug}.test", owner_password=PASSWORD
    )
    network = created.network
    owner = Persona(created.owner_email, PASSWORD, Role.OWNER, created.api_token, network)
    people = {}
    with tenant_context(network):
        for role in (Role.ADMIN, Role.VIEWER):
            email = f"{role}@{slug}.test"
            user = user_create(email=email, password=PASSWORD, role=role)
            people[role] = Persona(
                email, PASSWORD, role, api_token_create(user=user, name="t")[1], network
            )
    connection.set_schema_to_public()
    return PersonaNetwork(network, owner, people[Role.ADMIN], people[Role.VIEWER])


def network_drop(network: Network) -> None:
    Network.objects.get(pk=network.pk).delete(force_drop=True)


def platform_client() -> Client:
    return Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
