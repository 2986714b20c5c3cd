from django.urls import path

from . import views
from .widget_api import widget_api

urlpatterns = [
    path("integrations/amocrm/oauth/callback/", views.oauth_callback, name="amocrm-oauth-callback"),
    path("integrations/amocrm/webhook/<str:secret>/", views.webhook, name="amocrm-webhook"),
    path("integrations/amocrm/disconnect/", views.disconnect_hook, name="amocrm-disconnect"),
    path("api/widget/v1/", widget_api.urls),
]
