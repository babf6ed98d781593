"""Blameless-language hints: blaming phrasing is found exactly, neutral systems prose is not."""

import itertools
import json

import pytest

from incidents.lint import CATEGORIES, Hint, lint_sections, lint_text

# (sentence, expected category, expected excerpt)
BAD = [
    # Counterfactuals
    ("We should have caught this in staging.", "counterfactual", "should have"),
    ("The operator should've checked the dashboard first.", "counterfactual", "should've"),
    ("The operator should’ve checked the dashboard first.", "counterfactual", "should’ve"),
    ("The test suite should have caught the regression.", "counterfactual", "should have"),
    ("She shouldn't have pushed on a Friday evening.", "counterfactual", "shouldn't have"),
    ("We **should have** rolled back sooner.", "counterfactual", "should have"),
    ("The on-call engineer failed to notice the disk alert.", "counterfactual", "failed to"),
    ("We then failed to escalate for forty minutes.", "counterfactual", "failed to"),
    ("The SRE who failed to read the runbook was new.", "counterfactual", "failed to"),
    ("The reviewer neglected to run the migration in staging.", "counterfactual", "neglected to"),
    ("If only we had tested the failover path.", "counterfactual", "If only"),
    ("A canary could have prevented the outage.", "counterfactual", "could have prevented"),
    ("The incident would have been avoided with a staged rollout.", "counterfactual",
     "would have been avoided"),
    ("Someone ought to have paged the database team.", "counterfactual", "ought to have"),
    # Blame
    ("The outage was caused by human error.", "blame", "human error"),
    ("This was operator error during the migration.", "blame", "operator error"),
    ("It was a careless change to the load-balancer config.", "blame", "careless"),
    ("The responder was *negligent*.", "blame", "negligent"),
    ("Frankly the deploy was reckless.", "blame", "reckless"),
    ("The team had been sloppy with approvals.", "blame", "sloppy"),
    ("Ops was at fault for the delay.", "blame", "at fault"),
    ("Honestly, it was their fault.", "blame", "their fault"),
    ("The contractor was to blame.", "blame", "was to blame"),
    ("Dave made a simple mistake in the hostname.", "blame", "made a simple mistake"),
    ("The outage followed a mistake by the release manager.", "blame", "mistake by"),
    ("It was the operator’s error.", "blame", "operator’s error"),
    # Single root cause
    ("The root cause was a missing index.", "root-cause", "The root cause was"),
    ("Root cause is the expired certificate.", "root-cause", "Root cause is"),
    ("We identified the single cause of the outage.", "root-cause", "the single cause"),
    ("The real cause was the retry loop.", "root-cause", "The real cause"),
    # Hindsight certainty
    ("Obviously the TTL was too short.", "hindsight", "Obviously"),
    ("_Obviously_, nobody read the warning.", "hindsight", "Obviously"),
    ("It was clear that the config was wrong, yet the rollout went on.", "hindsight",
     "It was clear that"),
    ("Everyone knows you drain a node before restarting it.", "hindsight", "Everyone knows"),
    ("They could simply have rolled back.", "hindsight", "simply"),
    ("The operator just had to run the rollback script.", "hindsight", "just had to"),
    ("All they had to do was restart the consumer.", "hindsight", "All they had to do"),
    ("The on-call engineer should have known the cache was cold.", "hindsight",
     "should have known"),
    ("Restarting the pods was a no-brainer.", "hindsight", "no-brainer"),
    ("The change clearly should be reviewed by two people.", "hindsight", "clearly should"),
    # Individuals named as the cause
    ("@sam broke the deploy pipeline.", "individual", "@sam broke"),
    ("@priya.k accidentally took down the primary.", "individual",
     "@priya.k accidentally took down"),
    ("The outage began because Dave forgot to renew the certificate.", "individual",
     "Dave forgot"),
    ("Dave forgot to drain the node.", "individual", "Dave forgot"),
    ("**Bob's change** to the router config broke routing.", "individual",
     "Bob's change** to the router config broke"),
    ("It was Alice's mistake.", "individual", "Alice's mistake"),
    ("In the end it was @lee's typo.", "individual", "@lee's typo"),
    ("She messed up the DNS record.", "individual", "She messed up"),
    ("The engineer who deployed the change went home.", "individual",
     "The engineer who deployed"),
]  # fmt: skip

# Realistic post-mortem prose about systems: none of it should raise a hint.
NEUTRAL = [
    "We should add a staged rollout for config pushes.",
    "We will add a circuit breaker to the payment client.",
    "We should expire idle sessions after 15 minutes.",
    "The alarm failed over to the backup server.",
    "By 14:05 it was clear that the primary was unhealthy, so we failed over.",
    "The health check failed to connect to the replica.",
    "The request failed to complete within the 30 s timeout.",
    "The worker failed to acquire the lock and retried with backoff.",
    "The team's deploy job failed to start because the runner was offline.",
    "The requests we retried failed to connect again.",
    "The deploy of v2.3 failed to pass the smoke tests.",
    "The cache should have expired after 60 s, but the TTL was set in milliseconds.",
    "The alert should have fired at 80% disk usage; the threshold was read as a fraction.",
    "Retries should have a jitter of at least 100 ms.",
    "Cloudflare caused a brief spike in 5xx responses for some customers.",
    "Cloudflare's change to the WAF rules caused the spike.",
    "Quicksilver propagated the new configuration to every data centre within seconds.",
    "The WAF broke requests with unusually long headers.",
    "S3 caused elevated latency in us-east-1 for twenty minutes.",
    "Envoy's error budget was exhausted by 09:40.",
    "Monday's deploy triggered a full cache rebuild.",
    "The root-cause analysis template has five sections.",
    "The root cause analysis meeting is scheduled for Thursday.",
    "Contributing factors included the retry storm and an undersized connection pool.",
    "The config push reached all regions in 40 seconds.",
    "The retry storm doubled the load on the primary database.",
    "Failover took 90 seconds because DNS TTLs were set to 60 seconds.",
    "The pager escalates if only one responder acknowledges.",
    "The module uses lazy loading for its plugins, and lazy-initialised clients.",
    "The store uses sloppy quorums during network partitions.",
    "Each zone is its own fault domain, and we rely on their fault tolerance.",
    "The proxy simply drops requests larger than 1 MB.",
    "You can simply restart the pod if the lease is stuck.",
    "The CLI makes it easy to make a mistake with production credentials.",
    "This review is not about deciding who to blame.",
    "It would be wrong to blame the operator for following the runbook.",
    "@sam deployed v2.3 at 14:02 and @lee ran the rollback at 14:10.",
    "The engineer on call paged the database team at 02:14.",
    "The scheduler dropped the lease after the restart.",
    "The load balancer marked three hosts unhealthy and shifted traffic to eu-west-1.",
    "Users failed to log in for 14 minutes while the session store was down.",
    "The canary failed to detect the regression because it only checked for HTTP 200.",
    "The client should have retried with backoff, but the library disabled retries.",
    "Alice rolled back the deploy at 14:20 and Bob's change was reverted at 14:25.",
    "The team's error budget ran out on Tuesday.",
    # Plural "root causes" already admits more than one cause, so it is left alone.
    "The root causes were the retry policy and the missing rate limit.",
]


@pytest.mark.parametrize(("text", "category", "excerpt"), BAD)
def test_blaming_phrase_is_found_at_its_exact_place(text, category, excerpt):
    hints = [h for h in lint_text(text) if h.category == category]
    assert [h.excerpt for h in hints] == [excerpt], lint_text(text)
    hint = hints[0]
    assert text[hint.start : hint.end] == excerpt
    assert hint.start == text.index(excerpt)


@pytest.mark.parametrize("text", NEUTRAL)
def test_neutral_systems_prose_raises_no_hint(text):
    assert lint_text(text) == []


def test_there_are_enough_examples_on_both_sides():
    assert len(BAD) >= 25
    assert len(NEUTRAL) >= 25
    assert {category for _, category, _ in BAD} == set(CATEGORIES)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("We should have tested the rollback.", True),  # a person is the subject
        ("Monitoring should have caught the leak.", True),  # a human action follows
        ("The on-call should have been more careful.", True),
        ("The cache should have expired after 60 s.", False),  # a design expectation
        ("The queue should have drained within a minute.", False),
    ],
)
def test_should_have_fires_for_people_and_human_actions_only(text, fires):
    assert any(h.rule == "counterfactual-should-have" for h in lint_text(text)) is fires


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("The operator failed to roll back.", True),
        ("The team failed to respond to the page.", True),
        ("I failed to read the second alert.", True),
        ("@sam failed to follow the runbook.", True),
        ("The health check failed to connect.", False),
        ("The replica failed to catch up after the restart.", False),
        ("The request that failed to connect was retried.", False),
    ],
)
def test_failed_to_fires_only_with_a_person_or_team_as_subject(text, fires):
    assert any(h.rule == "counterfactual-failed-to" for h in lint_text(text)) is fires


def test_should_have_known_is_one_hindsight_hint_not_also_a_counterfactual():
    hints = lint_text("We should have known the cache was cold.")
    assert [(h.category, h.excerpt) for h in hints] == [("hindsight", "should have known")]


def test_products_and_systems_as_subjects_are_not_individuals():
    text = (
        "Cloudflare caused the spike. Quicksilver propagated it. The WAF broke logins. "
        "S3 caused latency. The Scheduler forgot the lease. Kubernetes' error rate rose."
    )
    assert [h for h in lint_text(text) if h.category == "individual"] == []


def test_several_hints_in_a_paragraph_come_out_in_order_with_exact_offsets():
    text = (
        "## Summary\n\n"
        "The root cause was human error: the operator *failed to* check the canary.\n"
        "Obviously, @sam broke the deploy, and we should have caught it."
    )
    hints = lint_text(text)
    assert [(h.category, h.excerpt) for h in hints] == [
        ("root-cause", "The root cause was"),
        ("blame", "human error"),
        ("counterfactual", "failed to"),
        ("hindsight", "Obviously"),
        ("individual", "@sam broke"),
        ("counterfactual", "should have"),
    ]
    assert [h.start for h in hints] == sorted(h.start for h in hints)
    for hint in hints:
        assert text[hint.start : hint.end] == hint.excerpt


def test_repeats_of_one_rule_are_all_found_without_overlap():
    text = "Human error. Human  error again. And *human* error, once more."
    hints = lint_text(text)
    assert [h.rule for h in hints] == ["blame-human-error"] * 3
    for a, b in itertools.pairwise(hints):
        assert a.end <= b.start


def test_overlapping_matches_of_one_rule_give_one_hint():
    # "Bob's commit … broke" and "Alice's typo" are both individual-possessive matches.
    text = "Bob's commit with Alice's typo broke the build."
    hints = [h for h in lint_text(text) if h.rule == "individual-possessive"]
    assert [h.excerpt for h in hints] == ["Bob's commit with Alice's typo broke"]


def test_empty_text_has_no_hints():
    assert lint_text("") == []


def test_lint_sections_returns_only_fields_with_hints():
    result = lint_sections(
        {
            "summary": "The root cause was a bad config push.",
            "timeline": "14:02 config push reached all regions. 14:05 failover started.",
            "impact": "",
            "lessons": "We should have canaried it, and Dave forgot to drain the node.",
        }
    )
    assert list(result) == ["summary", "lessons"]
    assert [h.category for h in result["summary"]] == ["root-cause"]
    assert [h.category for h in result["lessons"]] == ["counterfactual", "individual"]


def test_to_dict_is_json_serialisable_and_complete():
    hint = lint_text("Clearly, this was human error.")[0]
    data = json.loads(json.dumps(hint.to_dict()))
    assert data == {
        "rule": "blame-human-error",
        "category": "blame",
        "start": hint.start,
        "end": hint.end,
        "excerpt": "human error",
        "why": hint.why,
        "suggestion": hint.suggestion,
    }


def test_hint_is_immutable():
    hint = lint_text("It was a careless push.")[0]
    with pytest.raises(AttributeError):
        hint.excerpt = "something else"  # type: ignore[misc]
    assert isinstance(hint, Hint)


def test_every_category_has_its_own_humane_advice():
    hints = [h for text, _, _ in BAD for h in lint_text(text)]
    by_category: dict[str, set[str]] = {}
    for hint in hints:
        assert hint.category in CATEGORIES
        assert hint.rule.startswith(hint.category)
        assert len(hint.why) > 40
        assert len(hint.suggestion) > 40
        by_category.setdefault(hint.category, set()).add(hint.why)
    # No explanation is shared between two categories.
    for category, whys in by_category.items():
        for other, other_whys in by_category.items():
            if other != category:
                assert not whys & other_whys
