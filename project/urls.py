from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from ops.health import healthz
from ops.metrics import metrics
from tasks.permalink_view import permalink
from tasks.views import object_links

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/", include("notifications.urls")),
    path("api/", include("tasks.urls")),
    path("api/", include("tasks.schedules.urls")),
    path("staff/object-links/", object_links, name="object-links"),
    path("l/<str:token>", permalink, name="permalink"),
]
