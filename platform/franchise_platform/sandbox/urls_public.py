from django.urls import path

from . import card

urlpatterns = [
    path("sandbox/", card.card, name="sandbox-card"),
    path("sandbox/token/", card.token, name="sandbox-token"),
    path("sandbox/leads/", card.lead_create, name="sandbox-lead-create"),
    path("sandbox/leads/<int:lead_id>.json", card.lead_state, name="sandbox-lead"),
    path("sandbox/widget/<path:path>", card.widget_file, name="sandbox-widget"),
    path("sandbox/vendor/jquery.js", card.jquery, name="sandbox-jquery"),
]
