from django.urls import path

from . import recording_views, views

urlpatterns = [
    path("widget/recording/", recording_views.recording_chunk, name="recording_chunk"),
    path(
        "visitors/<int:visitor_id>/recordings/<int:recording_id>/",
        recording_views.recording_player,
        name="recording_player",
    ),
    path("recordings/<int:recording_id>/events.json", recording_views.recording_data, name="recording_data"),
    path("visitors/<int:pk>/card", views.visitor_card, name="visitor_card"),
    path("visitors/<int:pk>/contact", views.visitor_contact, name="visitor_contact"),
    path("visitors/<int:pk>/notes", views.note_add, name="visitor_note_add"),
    path("visitors/notes/<int:pk>/edit", views.note_edit, name="visitor_note_edit"),
    path("visitors/notes/<int:pk>/delete", views.note_delete, name="visitor_note_delete"),
]
