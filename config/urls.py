"""Root URLs: the web UI, the catalogue, the API and its schema, health checks, the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from incidents.api.errors import not_found

from . import health

handler400 = "incidents.api.errors.bad_request"
handler404 = "incidents.api.errors.not_found"
handler500 = "incidents.api.errors.server_error"

urlpatterns = [
    path("", include("incidents.urls")),
    path("", include("taxonomy.urls")),
    path("", include("duplicates.urls")),
    path("", include("reports.urls")),
    path("", include("review_templates.urls")),
    path("", include("notifications.urls")),
    path("", include("people.urls")),
    path("", include("reviewflow.urls")),
    path("", include("actions.urls")),
    path("", include("exports.urls")),
    path("", include("timeline_import.urls")),
    path("", include("trackers.urls")),
    path("", include("webhooks.urls")),
    path("", include("chat.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        # The split view serves its initialiser as a script file: no inline script under CSP.
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="api-docs",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Any other path under /api/ answers the JSON 404 here, so the development server
    # (DEBUG on, whose 404 page is HTML) answers bots exactly as production does.
    # csrf_exempt: it changes nothing, and a POST there must get this 404, not the CSRF
    # failure page (HTML, 403) that a token-authenticated bot cannot act on.
    re_path(r"^api/", csrf_exempt(not_found)),
]
