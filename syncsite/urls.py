from django.contrib import admin
from django.urls import path

from syncapp import views

admin.site.site_header = "Notion → Clockify sync"
admin.site.site_title = "Notion → Clockify sync"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("health/", views.health, name="health"),
    path("admin/", admin.site.urls),
]
