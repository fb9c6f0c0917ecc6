from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Notion → Clockify sync"
admin.site.site_title = "Notion → Clockify sync"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("hooks/", include("syncapp.webhooks.urls")),
    path("", include("syncapp.urls")),
]
