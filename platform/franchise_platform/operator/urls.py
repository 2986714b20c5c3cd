"""/operator/ on the platform host."""

from django.urls import path

from . import views

app_name = "operator"

urlpatterns = [
    path("", views.networks, name="networks"),
    path("login/", views.login, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("login/enrol/", views.enrol, name="enrol"),
    path("logout/", views.logout_view, name="logout"),
    path("audit/", views.audit, name="audit"),
    path("networks/<str:slug>/", views.network_detail, name="network"),
    path("networks/<str:slug>/suspend/", views.network_suspend_view, name="network_suspend"),
    path("networks/<str:slug>/resume/", views.network_resume_view, name="network_resume"),
    path("networks/<str:slug>/export/", views.network_export_view, name="network_export"),
    path("networks/<str:slug>/delete/", views.network_delete_view, name="network_delete"),
]
