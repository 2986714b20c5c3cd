"""The dummy CRM described for the core: it stands in for amoCRM in the demo network (an
amoCRM-shaped account host, the amoCRM widget's token), so it shares amoCRM's declaration."""

from __future__ import annotations

import dataclasses

from crm_connectors.amocrm.app import APP as AMOCRM_APP

APP = dataclasses.replace(AMOCRM_APP, slug="dummy", title="Dummy CRM")
