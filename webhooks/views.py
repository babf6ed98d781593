"""Web pages of the webhooks: endpoints (list, create, edit, delete, switch on and off,
rotate the secret, send a ping) and each endpoint's delivery log with "Redeliver".

Admins only (`webhooks.permissions.can_manage_webhooks`). A secret is shown once, on the
page that answers its creation or rotation, and never again.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .forms import EndpointForm
from .models import Delivery, Endpoint
from .permissions import MANAGE_REFUSED, can_manage_webhooks, visible_groups

PAGE_SIZE = 50
# The secret is decrypted only to sign a delivery, never to show a page.
ENDPOINTS = Endpoint.objects.defer("secret")


def admins_only(view):
    """Logged-in admins only: others are sent to log in (anonymous) or refused (403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_manage_webhooks(request.user):
            raise PermissionDenied(MANAGE_REFUSED)
        return view(request, *args, **kwargs)

    return wrapper


def _errors(form: EndpointForm, error: Exception) -> None:
    """Put a refusal from the services on the form, by field where it has one."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    elif isinstance(error, ValidationError):
        form.add_error(None, error.messages)
    else:
        form.add_error(None, str(error))


@admins_only
@require_http_methods(["GET"])
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """Every endpoint: address, events, state and its deliveries by state."""
    return render(request, "webhooks/list.html", {"endpoints": list(selectors.endpoints())})


@admins_only
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest) -> HttpResponse:
    """A new endpoint; the answer shows its secret, once."""
    form = EndpointForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.endpoint_create(
                url=data["url"],
                description=data["description"],
                event_types=data["events"],
                scope=data["scope"],
                by=request.user,
            )
        except (services.WebhookError, ValidationError) as error:
            _errors(form, error)
        else:
            return render(
                request,
                "webhooks/secret.html",
                {"endpoint": created.endpoint, "secret": created.secret, "new": True},
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "webhooks/form.html", {"form": form}, status=status)


@admins_only
@require_http_methods(["GET"])
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One endpoint: its settings, a banner when it is switched off, and its delivery log."""
    endpoint = get_object_or_404(ENDPOINTS.prefetch_related("scope"), pk=pk)
    page = Paginator(selectors.deliveries(endpoint), PAGE_SIZE).get_page(request.GET.get("page"))
    groups = visible_groups(request.user)
    rows = [
        {"delivery": delivery, "subject": selectors.subject(delivery.event, groups)}
        for delivery in page.object_list
    ]
    return render(
        request, "webhooks/detail.html", {"endpoint": endpoint, "page": page, "rows": rows}
    )


@admins_only
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change an endpoint's address, description, events and scope (the teams one is in)."""
    endpoint = get_object_or_404(ENDPOINTS, pk=pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "scope": list(endpoint.scope.all()),
    }
    form = EndpointForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.endpoint_update(
                endpoint=endpoint,
                by=request.user,
                url=data["url"],
                description=data["description"],
                event_types=data["events"],
                scope=data["scope"],
            )
        except (services.WebhookError, ValidationError) as error:
            _errors(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect(endpoint)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "webhooks/form.html", {"form": form, "endpoint": endpoint}, status=status
    )


@admins_only
@require_http_methods(["GET", "POST"])
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete the endpoint and its delivery log."""
    endpoint = get_object_or_404(ENDPOINTS, pk=pk)
    if request.method == "POST":
        services.endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Endpoint {endpoint.url} deleted.")
        return redirect("webhooks:list")
    return render(request, "webhooks/delete.html", {"endpoint": endpoint})


@admins_only
@require_POST
def endpoint_ping(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a test ping now; its delivery shows at the top of the log."""
    endpoint = get_object_or_404(ENDPOINTS, pk=pk)
    try:
        services.send_ping(endpoint=endpoint, by=request.user)
    except services.WebhookError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Ping sent: see its delivery below.")
    return redirect(endpoint)


@admins_only
@require_POST
def endpoint_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    """A new secret for the endpoint, shown once."""
    endpoint = get_object_or_404(ENDPOINTS, pk=pk)
    secret = services.endpoint_rotate_secret(endpoint=endpoint)
    return render(
        request, "webhooks/secret.html", {"endpoint": endpoint, "secret": secret, "new": False}
    )


@admins_only
@require_POST
def endpoint_enable(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch the endpoint on again; the deliveries that waited are sent."""
    endpoint = services.endpoint_enable(endpoint=get_object_or_404(ENDPOINTS, pk=pk))
    messages.success(request, "Endpoint switched on; waiting deliveries are being sent.")
    return redirect(endpoint)


@admins_only
@require_POST
def endpoint_disable(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch the endpoint off; its deliveries wait."""
    endpoint = services.endpoint_disable(endpoint=get_object_or_404(ENDPOINTS, pk=pk))
    messages.success(request, "Endpoint switched off; its deliveries wait until it is on again.")
    return redirect(endpoint)


@admins_only
@require_POST
def redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a delivery's event again to its endpoint (same event id, new delivery id)."""
    delivery = get_object_or_404(
        Delivery.objects.select_related("event", "endpoint").defer("endpoint__secret"), pk=pk
    )
    try:
        services.redeliver(delivery=delivery, by=request.user)
    except services.WebhookError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Redelivery queued: see it at the top of the log.")
    return redirect(delivery.endpoint)
