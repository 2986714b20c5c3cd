"""Issue 2: creating a network by cloning the template vs by migrating, and migrate_schemas for 50."""

from __future__ import annotations

import time

from .common import setup_django, summary, write_result


def _create(slug: str) -> float:
    from tenants.services import network_create

    start = time.perf_counter()
    network_create(
        name=f"Bench {slug}",
        slug=slug,
        owner_email=f"o@{slug}.test",
        owner_password="Bench-Password-42",
    )
    return time.perf_counter() - start


def run(samples: int = 15, fleet: int = 50) -> None:
    setup_django(fresh=True)
    from django.test import override_settings

    from tenants.models import Network

    _create("warmup-clone")
    cloned = [_create(f"clone-{i}") for i in range(samples)]
    with override_settings(TENANT_SNAPSHOT_CREATION=False):
        catalog = [_create(f"catalog-{i}") for i in range(samples)]
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=False):
        migrated = [_create(f"migrate-{i}") for i in range(samples)]

    existing = Network.objects.customers().count()
    for i in range(fleet - existing):
        _create(f"fleet-{i}")
    networks = Network.objects.customers().count()
    cloned_at_fleet = [_create(f"clone-late-{i}") for i in range(samples)]
    # Right after fifty schemas are created, autovacuum is busy with the catalogs and creation
    # slows down; measured again once the catalogs are vacuumed and analysed (the steady state).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    cloned_at_fleet_settled = [_create(f"clone-settled-{i}") for i in range(samples)]
    with override_settings(TENANT_SNAPSHOT_CREATION=False):
        catalog_at_fleet = [_create(f"catalog-late-{i}") for i in range(3)]

    from django.core.management import call_command

    start = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    migrate_all = time.perf_counter() - start
    start = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0, executor="multiprocessing")
    migrate_all_parallel = time.perf_counter() - start

    write_result(
        "network_create",
        {
            "goal": "create one network by cloning <= 1 s on this 2-core machine",
            "tenant_apps": __import__("django.conf", fromlist=["settings"]).settings.TENANT_APPS,
            "includes": "validation, schema, owner (Argon2id hash), data key, API token, domain",
            "create_by_cloning_seconds": summary(cloned),
            "create_by_cloning_with_fleet_seconds": summary(cloned_at_fleet),
            "create_by_cloning_with_fleet_settled_seconds": summary(cloned_at_fleet_settled),
            "create_by_catalog_clone_seconds": summary(catalog),
            "create_by_catalog_clone_with_fleet_seconds": summary(catalog_at_fleet),
            "create_by_migrating_seconds": summary(migrated),
            "speedup_cloning_vs_migrating_p50": round(
                summary(migrated)["p50"] / summary(cloned)["p50"], 2
            ),
            "migrate_schemas_all_networks": {
                "networks": networks,
                "seconds_standard_executor": round(migrate_all, 2),
                "seconds_multiprocessing_executor": round(migrate_all_parallel, 2),
            },
            "goal_met": summary(cloned)["p95"] <= 1.0
            and summary(cloned_at_fleet_settled)["p95"] <= 1.0,
        },
    )
