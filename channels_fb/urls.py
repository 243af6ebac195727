from django.urls import path

from . import views

app_name = "channels_fb"

urlpatterns = [
    path("webhook", views.webhook, name="webhook"),
]
