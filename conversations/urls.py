from django.urls import path

from . import views, widget_views

urlpatterns = [
    path("widget/loader.js", widget_views.widget_loader, name="widget-loader"),
    path("widget/frame/", widget_views.widget_frame, name="widget-frame"),
    path("demo/", widget_views.demo, name="demo"),
    path("inbox/", views.inbox_list, name="inbox_list"),
    path("inbox/tabs/", views.inbox_tabs, name="inbox_tabs"),
    path("resolved/", views.resolved_search, name="resolved"),
    path("conversations/<int:pk>/", views.conversation_page, name="conversation"),
    path("conversations/<int:pk>/row/", views.conversation_row, name="conversation_row"),
    path("conversations/<int:pk>/header/", views.conversation_header, name="conversation_header"),
    path("conversations/<int:pk>/thread/", views.conversation_thread, name="conversation_thread"),
    path("conversations/<int:pk>/card/", views.conversation_card, name="conversation_card"),
    path("conversations/<int:pk>/email-option/", views.conversation_email_option, name="conversation_email_option"),
    path("conversations/<int:pk>/messages/<int:message_id>/", views.conversation_message, name="conversation_message"),
    path("conversations/<int:pk>/join/", views.conversation_join, name="conversation_join"),
    path("conversations/<int:pk>/resolve/", views.conversation_resolve, name="conversation_resolve"),
    path("conversations/<int:pk>/reopen/", views.conversation_reopen, name="conversation_reopen"),
    path("conversations/<int:pk>/transfer/", views.conversation_transfer, name="conversation_transfer"),
    path("conversations/<int:pk>/tag/", views.conversation_tag, name="conversation_tag"),
    path("conversations/<int:pk>/untag/", views.conversation_untag, name="conversation_untag"),
    path("conversations/<int:pk>/read/", views.conversation_read, name="conversation_read"),
]
