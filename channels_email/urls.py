from django.urls import path, re_path

from . import views, webhooks

app_name = "channels_email"
urlpatterns = [
    path("email-attachments/<int:pk>/", views.attachment_download, name="attachment"),
    # Anymail's own paths (Mailgun tells its two formats apart by "_mime" in the URL).
    re_path(r"^anymail/(?P<esp>[a-z_]+)/inbound(?:_mime)?/$", webhooks.inbound_webhook, name="inbound_webhook"),
]
