"""The demo data: six reviews in which Cloudflare 2025 recurs 2019's structure."""

from io import StringIO

import pytest
from django.core.management import call_command

from incidents.models import Incident

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_loads_six_reviews_idempotently_and_prints_the_login():
    out = StringIO()
    call_command("load_demo", stdout=out)
    call_command("load_demo", stdout=StringIO())
    assert Incident.objects.count() == 6
    assert "Demo login: demo / " in out.getvalue()
    assert not Incident.objects.needing_analysis().exists()


def test_cloudflare_2025_shows_as_a_recurrence_of_2019_through_different_components(client):
    call_command("load_demo", stdout=StringIO())
    waf = Incident.objects.get(external_id="demo:cloudflare-waf-2019")
    bots = Incident.objects.get(external_id="demo:cloudflare-bot-management-2025")
    assert not set(waf.components.all()) & set(bots.components.all())

    client.login(username="demo", password="seams-demo")
    html = client.get(bots.get_absolute_url()).content.decode()
    section = html.split("Same structure seen before in", 1)[1]
    assert waf.title in section
    assert "Fast global propagation" in section
    for component in waf.components.all():
        assert component.name in section

    assert "Same structure seen before in" in html
    assert client.get("/").content.decode().count("/incidents/") >= 6
