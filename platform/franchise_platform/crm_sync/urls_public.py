from django.urls import path

from . import placement as placement_views
from . import views
from .widget_api import widget_api

urlpatterns = [
    path("integrations/amocrm/oauth/callback/", views.oauth_callback, name="amocrm-oauth-callback"),
    path("integrations/amocrm/webhook/<str:secret>/", views.webhook, name="amocrm-webhook"),
    path("integrations/amocrm/disconnect/", views.disconnect_hook, name="amocrm-disconnect"),
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
