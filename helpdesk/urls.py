from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

admin.site.site_header = "Helpdesk administration"
admin.site.site_title = "Helpdesk"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("password-reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("presence/", views.presence_panel, name="presence"),
    path("status/", views.status_set, name="status_set"),
    path("", include("conversations.urls")),
    path("", include("visitors.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("channels_email.urls")),
    path("channels/facebook/", include("channels_fb.urls")),
    path("api/v1/", include("helpdesk.api_urls")),
    path("", include("notifications.urls")),
]

if settings.DEBUG:
    # Only the agents' avatars are public; email attachments and recordings are served by views that
    # check who asks.
    urlpatterns += static(f"{settings.MEDIA_URL}avatars/", document_root=settings.MEDIA_ROOT / "avatars")
