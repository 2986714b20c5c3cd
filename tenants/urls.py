"""The platform host's pages for people (the landing and sign-up)."""

from django.urls import path
from django.views.i18n import set_language

from . import views

app_name = "public"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("signup/check-slug/", views.check_slug, name="check_slug"),
    path("language/", set_language, name="set_language"),
]
