"""The owner maps an existing amoCRM date field as the service date (optional, never created);
an empty value unmaps it, a bad one is refused with a Russian message."""

from __future__ import annotations

import pytest

from .conftest import crm_connection
from .test_integrations import FIELD_MAP, MINE

pytestmark = pytest.mark.django_db

URL = "/panel/integrations/amocrm/fields/"


def test_owner_maps_and_unmaps_the_service_date_field(in_network, owner):
    crm = crm_connection(field_map=FIELD_MAP)
    assert "Дата услуги" in owner.get("/panel/integrations/").content.decode()

    assert owner.post(URL, {**MINE, "service_date_field_id": "781"}).status_code == 302
    crm.refresh_from_db()
    assert crm.field_map["service_date_field_id"] == 781
    assert 'value="781"' in owner.get("/panel/integrations/").content.decode()

    assert owner.post(URL, {**MINE, "service_date_field_id": ""}).status_code == 302
    crm.refresh_from_db()
    assert "service_date_field_id" not in crm.field_map


@pytest.mark.parametrize("value", ["abc", "0", "777"])
def test_bad_or_shared_service_date_field_is_refused(in_network, owner, value):
    crm = crm_connection(field_map=FIELD_MAP)
    response = owner.post(URL, {**MINE, "service_date_field_id": value})
    assert response.status_code == 400
    crm.refresh_from_db()
    assert crm.field_map == FIELD_MAP
