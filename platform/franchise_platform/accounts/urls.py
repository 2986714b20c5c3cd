"""Login, logout, password reset and the second factor; included into the panel's namespace."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_links

urlpatterns = [
    path("login/", views.PanelLoginView.as_view(), name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.PanelLogoutView.as_view(), name="logout"),
    path("password-reset/", views.PanelPasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PanelPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("security/", views.security, name="security"),
    path("login/link/<str:token>/", views_links.login_link, name="login_link"),
    path("verify-email/resend/", views_links.verify_email_resend, name="verify_email_resend"),
    path("verify-email/<str:token>/", views_links.verify_email, name="verify_email"),
]
