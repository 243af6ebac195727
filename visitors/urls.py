from django.urls import path

from . import views

urlpatterns = [
    path("visitors/<int:pk>/card", views.visitor_card, name="visitor_card"),
    path("visitors/<int:pk>/contact", views.visitor_contact, name="visitor_contact"),
    path("visitors/<int:pk>/notes", views.note_add, name="visitor_note_add"),
    path("visitors/notes/<int:pk>/edit", views.note_edit, name="visitor_note_edit"),
    path("visitors/notes/<int:pk>/delete", views.note_delete, name="visitor_note_delete"),
]
