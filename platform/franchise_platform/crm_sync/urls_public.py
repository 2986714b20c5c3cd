from django.urls import path

from . import placement as placement_views
from . import views
from .widget_api import widget_api

AMOCRM = {"crm": "amocrm"}

urlpatterns = [
    # amoCRM's addresses (CONTRACT) and names: the routes below with crm=amocrm.
    path(
        "integrations/amocrm/oauth/callback/",
        views.oauth_callback,
        AMOCRM,
        name="amocrm-oauth-callback",
    ),
    path("integrations/amocrm/webhook/<str:secret>/", views.webhook, AMOCRM, name="amocrm-webhook"),
    path(
        "integrations/amocrm/disconnect/", views.disconnect_hook, AMOCRM, name="amocrm-disconnect"
    ),
    path(
        "integrations/<slug:crm>/oauth/callback/", views.oauth_callback, name="crm-oauth-callback"
    ),
    path("integrations/<slug:crm>/webhook/<str:secret>/", views.webhook, name="crm-webhook"),
    path("integrations/<slug:crm>/events/", views.events, name="crm-events"),
    path("integrations/<slug:crm>/disconnect/", views.disconnect_hook, name="crm-disconnect"),
    path("integrations/<slug:crm>/install/", views.install, name="crm-install"),
    path("api/widget/v1/", widget_api.urls),
]

# The deal card of a CRM whose card is an iframe opened by a POST (crm_sync/placement.py).
urlpatterns += [
    path(
        "integrations/<slug:crm>/placement/",
        placement_views.placement,
        name="crm-card-frame",
    ),
]
