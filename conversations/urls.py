from django.urls import path

from . import views

urlpatterns = [
    path("widget/loader.js", views.widget_loader, name="widget-loader"),
    path("widget/frame/", views.widget_frame, name="widget-frame"),
    path("demo/", views.demo, name="demo"),
]
