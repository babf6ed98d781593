"""The review page answers "have we seen this before?": similar reviews with their confidence
and the evidence for each, never a review the reader may not see."""

import pytest

from similarity.mechanisms import match_mechanisms

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

EXPIRED = "The TLS certificate expired on the {where} and nobody renewed it in time."


def _similar_section(html: str) -> str:
    """The "Have we seen this before?" section of a review page."""
    start = html.index('aria-labelledby="similar-heading"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def expiries(save_review):
    earlier = save_review(
        title="Checkout down after the gateway certificate lapsed",
        summary=EXPIRED.format(where="payment gateway"),
        organisation="Acme",
    )
    later = save_review(
        title="Logins failing for two hours",
        summary=EXPIRED.format(where="identity provider"),
    )
    return earlier, later


def test_the_example_text_names_a_catalogue_mechanism():
    # The tests below rely on it: without a shared mechanism there is nothing to explain.
    assert "certificate-expiry" in match_mechanisms(EXPIRED.format(where="proxy"))


def test_review_page_shows_a_similar_review_with_confidence_and_evidence(logged_in, expiries):
    earlier, later = expiries
    html = logged_in.get(later.get_absolute_url()).content.decode()
    assert "Have we seen this before?" in html
    section = _similar_section(html)
    assert earlier.get_absolute_url() in section
    assert earlier.title in section
    assert "Acme" in section  # the other review's organisation
    assert "strong match" in section or "possible match" in section
    assert "Same mechanism" in section
    assert "Certificate expiry" in section
    assert "“certificate expired”" in section  # both sides' evidence phrase
    assert "Same words" in section
    assert "Nothing Seams found is likely the same structure" not in section
    # The review itself is never suggested as similar to itself.
    assert f'data-similar-incident="{later.pk}"' not in section


def test_our_own_reviews_are_labelled_ours(logged_in, expiries):
    earlier, later = expiries
    section = _similar_section(logged_in.get(earlier.get_absolute_url()).content.decode())
    assert later.get_absolute_url() in section
    assert '<span class="badge">ours</span>' in section


def test_restricted_review_appears_only_for_members_of_its_group(client, save_review):
    group = GroupFactory()
    secret = save_review(
        title="Vault certificate lapsed",
        summary=EXPIRED.format(where="secrets vault"),
        restricted_to=group,
    )
    public = save_review(
        title="Edge certificate lapsed", summary=EXPIRED.format(where="edge proxy")
    )

    client.force_login(UserFactory())
    outsider = _similar_section(client.get(public.get_absolute_url()).content.decode())
    assert secret.get_absolute_url() not in outsider
    assert secret.title not in outsider

    member = UserFactory()
    member.groups.add(group)
    client.force_login(member)
    inside = _similar_section(client.get(public.get_absolute_url()).content.decode())
    assert secret.get_absolute_url() in inside


def test_nothing_similar_says_nothing_is_likely(logged_in, save_review):
    save_review(title="Disk filled on the database host", summary="Logs grew until full.")
    lonely = save_review(
        title="Marketing site showed a stale banner",
        summary="A cached banner image stayed up after the campaign ended.",
    )
    section = _similar_section(logged_in.get(lonely.get_absolute_url()).content.decode())
    assert "Nothing Seams found is likely the same structure as this review." in section


def test_this_organisation_before_lists_only_the_same_organisation(logged_in, save_review):
    ours = save_review(title="Our API certificate lapsed", summary=EXPIRED.format(where="API"))
    save_review(
        title="Their CDN certificate lapsed",
        summary=EXPIRED.format(where="CDN"),
        organisation="Globex",
    )
    latest = save_review(
        title="Our admin certificate lapsed", summary=EXPIRED.format(where="admin")
    )
    html = logged_in.get(latest.get_absolute_url()).content.decode()
    assert "At this organisation before" in html
    ours_list = html[html.index('class="similar-ours"') :]
    ours_list = ours_list[: ours_list.index("</ul>")]
    assert ours.get_absolute_url() in ours_list
    assert "Their CDN certificate lapsed" not in ours_list


def test_no_organisation_list_when_nothing_there(logged_in, save_review):
    lonely = save_review(title="Banner stayed up", summary="A cached banner stayed up.")
    assert (
        "At this organisation before"
        not in logged_in.get(lonely.get_absolute_url()).content.decode()
    )


def test_review_page_query_count_is_bounded(
    logged_in, expiries, save_review, django_assert_max_num_queries
):
    for n in range(8):
        save_review(title=f"Certificate lapse {n}", summary=EXPIRED.format(where=f"host {n}"))
    _, later = expiries
    # Measured: 52 statements with nine similar reviews (46 with none; the same 52 with
    # fifteen): the session and user (2), the review and its prefetched parts (11),
    # recurrence (2), two similarity answers — anywhere and this organisation — of about 17
    # each (the reader's groups, merged copies, term counts, candidate look-ups, scores, the
    # results' rows, patterns and duplicates, each fetched in one batch), the edit/publish
    # permissions (2) and the duplicates notice (1). A few spare for cache misses.
    with django_assert_max_num_queries(60):
        response = logged_in.get(later.get_absolute_url())
    assert response.status_code == 200


def test_a_flagged_duplicate_is_badged(logged_in, save_review):
    first = save_review(
        title="Checkout down: TLS certificate expired",
        summary=EXPIRED.format(where="payment gateway"),
    )
    second = save_review(
        title="Checkout down after the TLS certificate expired",
        summary=EXPIRED.format(where="payment gateway"),
    )
    section = _similar_section(logged_in.get(second.get_absolute_url()).content.decode())
    # The only other review, so the whole section is its card.
    assert f'data-similar-incident="{first.pk}"' in section
    assert "possible duplicate" in section
    assert "flagged as a possible duplicate of this review" in section
