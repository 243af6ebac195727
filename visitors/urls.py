from django.urls import path

from . import views

urlpatterns = [
    path("widget/recording/", views.recording_chunk, name="recording_chunk"),
    path("visitors/<int:visitor_id>/recordings/<int:recording_id>/", views.recording_player, name="recording_player"),
    path("recordings/<int:recording_id>/events.json", views.recording_data, name="recording_data"),
]
