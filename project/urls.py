from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.ratelimit import rate_limited
from ops.health import healthz
from ops.metrics import metrics
from project.apiroot import api_root
from tasks.permalinks.view import permalink
from tasks.views import object_links

admin_login = rate_limited("admin-login", "ADMIN_LOGIN_RATE", methods={"POST"})(admin.site.login)
limited_permalink = rate_limited("permalink", "LINKS_PERMALINK_RATE")(permalink)

handler404 = "common.apierrors.not_found"  # under /api/: the JSON Error body

urlpatterns = [
    path("admin/login/", admin_login),  # before admin's own URLs: the same view, limited
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/", api_root, name="api-root"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("access.api.urls")),
    path("api/", include("notifications.api.urls")),
    path("api/", include("tasks.api.urls")),
    path("api/", include("schedules.api.urls")),
    path("staff/object-links/", object_links, name="object-links"),
    path("l/<str:token>", limited_permalink, name="permalink"),
]
