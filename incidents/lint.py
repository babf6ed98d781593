"""Blameless-language hints for post-mortem prose, shown while an engineer writes a review.

A review is only as accurate as what people are willing to tell it. When the text reads like a
verdict ("human error", "she should have known", "the root cause was Bob's change"), the people
closest to the incident learn that candour gets them named, and the next review hears a tidier,
less truthful story. Blaming wording also ends the analysis too early: once a person or a single
cause is found, nobody asks why the dashboards, defaults, deadlines and tooling made that action
look reasonable at the time, and those are the things an organisation can actually change.

So this module points at phrasing that judges people with hindsight, and suggests wording that
describes what people knew, saw and did, and how the system behaved. It is a writing aid, not
a gate: every rule trades a few missed phrases for very few false alarms, because a hint that
fires on ordinary technical prose ("the health check failed to connect") teaches people to
ignore all hints.

Plain Python, standard library only; offsets are character offsets into the text as given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

CATEGORIES = ("counterfactual", "blame", "root-cause", "hindsight", "individual")


@dataclass(frozen=True)
class Hint:
    """One piece of wording worth a second look, with why and what to write instead."""

    rule: str
    category: str
    start: int
    end: int
    excerpt: str
    why: str
    suggestion: str

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


# --- Building blocks ------------------------------------------------------------------------

# Between the words of a phrase: whitespace and Markdown emphasis ("should **have**").
_SEP = r"[\s*_~`]+"
# Word edges that treat "_" as punctuation, so "_obviously_" and "**sloppy**" still match.
_L = r"(?<![^\W_])"
_R = r"(?![^\W_])"
_APOS = "['’]"


def _phrase_body(pattern: str) -> str:
    """A space in a phrase means "words apart"; an apostrophe may be straight or curly."""
    return pattern.replace(" ", _SEP).replace("'", _APOS)


def _phrase(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """Compile a phrase that starts and ends at word edges."""
    return re.compile(_L + "(?:" + _phrase_body(pattern) + ")" + _R, flags)


def _words(text: str) -> frozenset[str]:
    """A word list written as whitespace-separated text."""
    return frozenset(text.split())


_TOKEN = re.compile(r"@[A-Za-z0-9](?:[\w-]|\.(?=\w))*|[^\W_](?:[\w'’-]*[^\W_])?")
# A clause ends at sentence punctuation followed by space, or at a line break.
_CLAUSE_BREAK = re.compile(r"[.!?;:](?=\s|$)|\n")
_LOOKBACK = 200


def _norm(word: str) -> str:
    return word.lower().replace("’", "'")


def _clause_before(text: str, pos: int) -> str:
    """Text from the start of the clause containing `pos` up to `pos`."""
    lo = max(0, pos - _LOOKBACK)
    start = lo
    for m in _CLAUSE_BREAK.finditer(text, lo, pos):
        start = m.end()
    return text[start:pos]


def _words_before(text: str, pos: int) -> list[str]:
    return [_norm(w) for w in _TOKEN.findall(_clause_before(text, pos))]


def _words_after(text: str, pos: int, limit: int = 8) -> list[str]:
    chunk = text[pos : pos + _LOOKBACK]
    brk = _CLAUSE_BREAK.search(chunk)
    if brk:
        chunk = chunk[: brk.start()]
    return [_norm(w) for w in _TOKEN.findall(chunk)[:limit]]


# Head nouns and pronouns that make a sentence about people rather than machines. Possessives
# ("the team's job") deliberately do not count: there the subject is the job.
_PERSON_WORDS = _words(
    """
    i we you he she they someone somebody nobody anyone anybody everyone everybody engineer
    engineers operator operators on-call oncall on-caller on-callers team teams reviewer
    reviewers approver approvers sre sres developer developers dev devs admin admins
    administrator administrators responder responders commander staff person people human humans
    manager managers lead owner owners author authors maintainer maintainers member members
    colleague colleagues intern interns contractor contractors
    """
)
# Words that may sit between a subject and its verb without changing who the subject is.
_FILLER = _words(
    """
    also then still again repeatedly initially subsequently later originally consistently
    completely simply just both all had have has really definitely probably certainly perhaps
    arguably maybe possibly ideally clearly obviously apparently unfortunately ultimately
    themselves himself herself ourselves myself collectively
    """
)


def _strip_contraction(word: str) -> str:
    for suffix in ("'d", "'ve", "'ll"):
        if word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _subject_is_person(text: str, pos: int) -> bool:
    """Is the nearest subject before `pos` a person, a team or an @handle?

    Walks back over fillers ("we then failed to", "the engineer also should have") and over
    "who"/"that" to the antecedent ("the operator who failed to"). The first other word decides,
    so "the request we sent failed to connect" is about the request, not about "we".
    """
    words = _words_before(text, pos)
    for i in range(len(words) - 1, -1, -1):
        word = _strip_contraction(words[i])
        if word in _FILLER or word in ("who", "that"):
            continue
        if word == "call" and i > 0 and words[i - 1] == "on":
            return True
        return word.startswith("@") or word in _PERSON_WORDS
    return False


# --- Gates: extra conditions some phrases must meet ------------------------------------------

_ACTION_VERBS = _words(
    """
    caught noticed checked tested seen realised realized asked waited stopped reviewed verified
    escalated spotted paged rolled double-checked looked read confirmed validated investigated
    raised flagged questioned warned told called anticipated foreseen predicted considered
    thought followed communicated informed alerted
    """
)
_AFTER_FILLER = _words("really just also probably definitely at least immediately first")
_CAREFUL = _words("careful aware attentive vigilant paying watching cautious diligent thorough")


def _should_have_is_counterfactual(text: str, m: re.Match[str]) -> bool:
    """Tell a judgement of people ("should have") from a design expectation of a machine.

    Fires when a person or team is the subject ("we should have", "the operator should've"), or
    when a human action follows ("should have caught", "should have been more careful").
    "The cache should have expired after 60 s" describes intended behaviour and stays quiet.
    "Should have known" is left to the more specific hindsight rule.
    """
    after = [w for w in _words_after(text, m.end()) if w not in _AFTER_FILLER]
    if after and after[0] == "known":
        return False
    if _subject_is_person(text, m.start()):
        return True
    if not after:
        return False
    if after[0] in _ACTION_VERBS:
        return True
    if after[0] == "been":
        rest = [w for w in after[1:] if w not in ("more", "much", "a", "bit", "little", "far")]
        return bool(rest) and rest[0] in _CAREFUL
    return False


def _failed_to_is_about_people(text: str, m: re.Match[str]) -> bool:
    """Only people fail to: "the health check failed to connect" is ordinary technical prose."""
    return _subject_is_person(text, m.start())


def _if_only_is_wishful(text: str, m: re.Match[str]) -> bool:
    """Tell a wish ("if only we had tested it") from a condition ("escalates if only one
    responder acknowledges"): the wish comes with a past or unreal verb soon after."""
    after = _words_after(text, m.end(), limit=6)
    return any(
        w in ("had", "hadn't", "were", "weren't", "could", "would") or w.endswith("'d")
        for w in after
    )


_MODALS = _words("could should must ought couldn't shouldn't mustn't")


def _simply_is_hindsight(text: str, m: re.Match[str]) -> bool:
    """Flag "simply" only when it says what someone could or should have done.

    Fires for "could simply have", "should have simply", "simply had to", "needed to simply".
    "The proxy simply drops the request" and "you can simply restart the pod" stay quiet.
    """
    before = _words_before(text, m.start())[-4:]
    after = _words_after(text, m.end(), limit=3)
    if after[:2] in (["had", "to"], ["needed", "to"]):
        return True
    if before[-2:] in (["had", "to"], ["needed", "to"]):
        return True
    modal = any(w.split("'")[0] in _MODALS or w in _MODALS for w in before)
    perfect = (
        "have" in before[-2:]
        or (after[:1] == ["have"])
        or any(w.endswith("'ve") for w in before[-2:])
    )
    return modal and perfect


_TIME_ANCHOR = re.compile(
    r"\b(?:by\s+(?:\d+|then|now|that|this|the\s+time|the\s+end|midnight|noon|morning|evening)"
    r"|at\s+(?:that|this)\s+(?:point|stage|time)|once|after|when|within|soon)\b",
    re.IGNORECASE,
)


def _clear_is_hindsight(text: str, m: re.Match[str]) -> bool:
    """Treat "it was clear that" as hindsight unless the clause says when it became clear:
    "By 14:05 it was clear that the primary was down" is a timeline entry."""
    if not m.group("was"):
        return True
    return not _TIME_ANCHOR.search(_clause_before(text, m.start()))


# --- Individuals ----------------------------------------------------------------------------
#
# Naming people as the cause is hard to spot without false alarms, because products and systems
# are capitalised too: "Cloudflare caused", "Quicksilver propagated", "S3 caused", "The WAF
# broke" are ordinary sentences. The heuristic therefore flags a person only when
#   * it is an @handle followed by a causal or blaming verb ("@sam broke", "@sam forgot"), or
#   * it is a possessive of an @handle or a capitalised single word followed by mistake/error/
#     fault/typo ("Alice's mistake"), or by change/commit/deploy and a causal verb within a few
#     words ("Bob's change to the router broke"), or
#   * a capitalised single word (or he/she) is the direct subject of a verb that only people do:
#     forgot, neglected, messed up, screwed up, didn't bother, fat-fingered, botched
#     ("because Dave forgot", "Dave forgot to"), or
#   * a role is singled out as the actor: "the engineer who deployed".
# A capitalised word must look like a name: one capital then lower-case letters (so "WAF",
# "S3" and "GitHub" are out), not preceded by a determiner ("The Scheduler forgot"), and not in
# the stop-list below of common products, vendors, pronouns and time words.
# Limits: "Alice caused the outage" and "Bob broke prod" are NOT flagged (a bare name with a
# neutral causal verb is indistinguishable from "Kafka caused"); lower-case names, names not
# at a verb, and products missing from the stop-list with possessive + "mistake" can slip
# either way. The counterfactual and blame rules still catch most such sentences' wording.

_NOT_NAMES = _words(
    """
    i we you he she they it its this that these those there here what who which when where why
    how let someone somebody nobody anyone anybody everyone everybody one each every our their
    his her my your team teams engineering ops security support product legal finance customer
    customers user users client clients vendor vendors provider service services platform system
    systems cluster server servers region database network today yesterday tomorrow tonight
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december week month quarter year cloudflare
    quicksilver kubernetes postgres redis kafka nginx envoy terraform ansible puppet chef
    jenkins consul vault docker celery django linux windows azure google amazon microsoft oracle
    apple meta slack akamai fastly heroku vercel netlify stripe twilio datadog grafana
    prometheus sentry okta elastic elasticsearch opensearch mongo cassandra zookeeper etcd istio
    linkerd argo helm spinnaker bazel gradle maven python java node rails spring memcached
    varnish haproxy traefik caddy apache tomcat gunicorn sidekiq rabbit nomad packer vagrant
    github gitlab bitbucket jira confluence pagerduty opsgenie chrome firefox safari android
    """
)
_DETERMINERS = _words(
    """
    the a an this that these those our their its his her my your each every no any some
    """
)
_HANDLE = r"@[A-Za-z0-9](?:[\w-]|\.(?=\w))*"
_NAME = r"(?P<who>" + _HANDLE + r"|[A-Z][a-z]+)"
_POSSESSIVE = r"(?:['’]s|(?<=s)['’])"
_TECH_AFTER_ERROR = (
    r"log|logs|message|messages|rate|rates|budget|budgets|code|codes|handler|handlers|handling"
    r"|page|pages|path|paths|count|counts|counter|counters|response|responses|output|reporting"
    r"|tracking|spike|spikes|ratio|class|type|types|string|state"
)


def _looks_like_a_person(text: str, m: re.Match[str]) -> bool:
    who = m.group("who")
    if who.startswith("@"):
        return True
    if who.lower() in _NOT_NAMES:
        return False
    before = _words_before(text, m.start("who"))
    return not (before and before[-1] in _DETERMINERS)


def _looks_like_a_person_or_pronoun(text: str, m: re.Match[str]) -> bool:
    if m.group("who").lower() in ("he", "she"):
        return True
    return _looks_like_a_person(text, m)


_WHO_START = r"(?<![\w@'’.])"
_FILLER_ADVERB = r"(?:" + _SEP + r"[A-Za-z]+ly)?"  # "@sam accidentally broke"

_HANDLE_VERB = re.compile(
    rf"{_WHO_START}(?P<who>{_HANDLE}){_FILLER_ADVERB}{_SEP}"
    + _phrase_body(
        r"(?i:broke|caused|took down|brought down|knocked over|misconfigured|forgot|neglected"
        r"|missed|overlooked|ignored|messed up|screwed up|botched|fat-fingered|fat fingered"
        r"|didn't bother|did not bother|failed to)"
    )
    + _R
)

_POSSESSIVE_FAULT = re.compile(
    rf"{_WHO_START}{_NAME}{_POSSESSIVE}{_SEP}"
    r"(?i:mistakes?|errors?|faults?|typos?|blunders?|oversights?|screw-?ups?|slip-?ups?)"
    rf"{_R}(?![-\s]+(?i:{_TECH_AFTER_ERROR})\b)"
)

_POSSESSIVE_CHANGE = re.compile(
    rf"{_WHO_START}{_NAME}{_POSSESSIVE}{_SEP}"
    r"(?i:(?:config(?:uration)?\s+)?(?:changes?|commits?|PRs?|pull\s+requests?|patch(?:es)?"
    r"|deploy(?:ment)?s?|push(?:es)?|scripts?|migrations?|merges?|rollouts?|edits?|updates?))"
    rf"(?:{_SEP}[\w'’/-]+){{0,4}}?{_SEP}"  # up to four words: "Bob's change to the router broke"
    r"(?i:broke|caused|took\s+down|brought\s+down|knocked\s+over|triggered|introduced"
    r"|led\s+to|resulted\s+in|corrupted|deleted|wiped|overloaded|crashed)" + _R
)

_NAME_BLAME_VERB = re.compile(
    rf"{_WHO_START}(?P<who>[A-Z][a-z]+|(?i:he|she)){_FILLER_ADVERB}{_SEP}"
    + _phrase_body(
        r"(?i:forgot|neglected|messed up|screwed up|didn't bother|did not bother"
        r"|fat-fingered|fat fingered|botched)"
    )
    + _R
)

_ROLE_WHO = _phrase(
    r"the (?:[\w-]+ )?(?:engineer|operator|developer|dev|sre|admin|administrator|person|intern"
    r"|contractor|new hire|employee|responder|on-call|oncall|reviewer|author)s? (?:who|that) "
    r"(?:deployed|pushed|merged|ran|wrote|approved|made|caused|broke|introduced|shipped"
    r"|committed|changed|forgot|missed|clicked|typed|executed|triggered|applied|deleted"
    r"|misconfigured|ignored|overlooked)"
)


# --- Advice ---------------------------------------------------------------------------------

_COUNTERFACTUAL_WHY = (
    "Counterfactuals describe a world that never happened. They measure people against an "
    "outcome nobody could see yet, and stop the review asking why the actual choice made sense "
    "at the time."
)
_COUNTERFACTUAL_SUGGESTION = (
    "Describe what the person knew and saw at the time: 'The dashboard showed green, so the "
    "operator continued the rollout.'"
)
_BLAME_SUGGESTION = (
    "Describe the action and the conditions around it, without a verdict: 'The command ran "
    "against production because both terminals had the same prompt and hostname colour.'"
)
_HINDSIGHT_SUGGESTION = (
    "Describe what was visible at the time and what competed for attention: 'The disk-usage "
    "alert fired alongside 40 others during the deploy, and the runbook did not mention it.'"
)
_INDIVIDUAL_WHY = (
    "Naming a person as the cause shifts the review from how it happened to who did it. The "
    "same conditions would have tripped up anyone, and people stop sharing details once they "
    "expect to be named."
)
_INDIVIDUAL_SUGGESTION = (
    "Make the change or the system the subject, and say what let it through: 'The 14:02 deploy "
    "broke logins because the feature flag defaulted to on and no test covered it.'"
)


@dataclass(frozen=True)
class _Rule:
    id: str
    category: str
    pattern: re.Pattern[str]
    why: str
    suggestion: str
    accept: Callable[[str, re.Match[str]], bool] | None = None


_RULES: tuple[_Rule, ...] = (
    # Counterfactuals ------------------------------------------------------------------------
    _Rule(
        "counterfactual-should-have",
        "counterfactual",
        _phrase(r"should have|should've|shouldn't have|should not have"),
        _COUNTERFACTUAL_WHY,
        _COUNTERFACTUAL_SUGGESTION,
        _should_have_is_counterfactual,
    ),
    _Rule(
        "counterfactual-ought-to-have",
        "counterfactual",
        _phrase(r"ought to have|ought not to have|oughtn't to have"),
        _COUNTERFACTUAL_WHY,
        _COUNTERFACTUAL_SUGGESTION,
        _should_have_is_counterfactual,
    ),
    _Rule(
        "counterfactual-could-have-prevented",
        "counterfactual",
        _phrase(
            r"(?:could|would|might)(?:n't)? have (?:been )?(?:prevented|avoided)"
            r"|(?:could|would|might)'ve (?:been )?(?:prevented|avoided)"
        ),
        "Saying something could have prevented the outage is easy once the outcome is known. "
        "It invites 'so why didn't you?' instead of asking what made that path hard to take.",
        "Describe the gap as a property of the system and turn it into an action: 'Config "
        "pushes reach every region at once; we will add a staged rollout.'",
    ),
    _Rule(
        "counterfactual-failed-to",
        "counterfactual",
        _phrase(r"failed to"),
        "'Failed to' frames an action that did not happen as a personal shortcoming, and hides "
        "the conditions that made it easy to miss.",
        "Say what happened and what made it hard: 'The expiry warning went to an unmonitored "
        "mailbox, so the certificate was not renewed.'",
        _failed_to_is_about_people,
    ),
    _Rule(
        "counterfactual-neglected-to",
        "counterfactual",
        _phrase(r"neglected to"),
        "'Neglected to' implies someone knew what to do and chose not to. That is rarely what "
        "happened, and it discourages people from explaining their reasoning.",
        "Describe the step and why it was skipped or invisible: 'The checklist did not include "
        "draining the node, so the restart dropped in-flight requests.'",
    ),
    _Rule(
        "counterfactual-if-only",
        "counterfactual",
        _phrase(r"if only"),
        "'If only' wishes the past were different. It tells readers nothing about why events "
        "unfolded as they did.",
        "Turn the wish into an observation and an action: 'The rollback took 40 minutes because "
        "it needed a manual approval; we will make rollbacks one click.'",
        _if_only_is_wishful,
    ),
    # Blame ----------------------------------------------------------------------------------
    _Rule(
        "blame-human-error",
        "blame",
        _phrase(r"(?:human|operator|pilot)(?:-| )errors?"),
        "'Human error' is where an investigation should start, not where it ends. It names a "
        "culprit and stops the review before it finds the tooling, pressure and design that made "
        "the error likely.",
        _BLAME_SUGGESTION,
    ),
    _Rule(
        "blame-character",
        "blame",
        _phrase(
            r"careless(?:ly|ness)?|negligen(?:t|tly|ce)|sloppy(?![-\s]+quorums?\b)|sloppi(?:ly|ness)"
            r"|incompeten(?:t|ce|cy)|reckless(?:ly|ness)?|laziness"
            r"|lazy(?![-\s]*(?:-|load|loading|loaded|loads|loader|eval|evaluation|evaluated"
            r"|init|initiali[sz]ation|initiali[sz]ed|initiali[sz]ing|import|imports|iterator"
            r"|iteration|queryset|querysets|propert(?:y|ies)|attributes?|fetch|fetching|fetched"
            r"|allocation|binding|deletion|mode|expansion|compilation|sequences?|val|static|lists?"
            r"|streams?|instantiation|hydration|rendering|singleton|proxy|objects?|values?"
            r"|connections?|consumers?|migrations?|writes?|replication|sync|propagation|expiry"
            r"|expiration|parsing|decoding|cach(?:e|ing)|gc|garbage)\b)"
        ),
        "Words like 'careless' or 'negligent' judge a person's character rather than describe "
        "what happened. Colleagues become less willing to share what really went on, so the "
        "next review is less accurate.",
        "Describe the action and its context neutrally: 'The change was merged without a second "
        "review because the reviewer rota was empty that week.'",
    ),
    _Rule(
        "blame-fault",
        "blame",
        _phrase(
            r"at fault|(?:is|was|were|are|be|been|being)"
            r"(?: (?:partly|partially|solely|entirely|largely|ultimately|mainly|mostly|equally"
            r"|also|not|really|somewhat))? to blame"
            r"|(?:his|her|their|my|your|our) fault(?![-\s]*(?:-|tolerance|tolerant|domains?"
            r"|injection|isolation|zones?|handlers?|handling|detection|models?|lines?|codes?"
            r"|counters?|rates?|trees?|boundar(?:y|ies)|paths?|reports?|logs?)\b)"
        ),
        "Assigning fault turns the review into a verdict. People stop volunteering details once "
        "they expect to be judged, and the weaknesses in the system stay hidden.",
        "Describe each contributing factor and how they combined: 'The alert threshold, the "
        "missing canary and the late-night timing together let the bad config reach every "
        "region.'",
    ),
    _Rule(
        "blame-mistake",
        "blame",
        _phrase(
            r"mistakes? by|made (?:(?:a|an|the|one|another|several|some|two|many|multiple|big"
            r"|simple|careless|small|silly|honest|costly|critical|serious|basic) ){0,2}mistakes?"
            r"|(?:his|her|their|my|your|our) mistakes?"
            r"|(?:engineer|operator|developer|dev|sre|admin|administrator|responder|on-call"
            r"|oncall|reviewer|author|intern|contractor|team)'s (?:mistakes?|errors?|faults?)"
            r"(?![-\s]+(?:" + _TECH_AFTER_ERROR + r")\b)"
        ),
        "Pinning a 'mistake' on someone treats a normal action as the failure, instead of asking "
        "why the system let one action do so much harm.",
        "Describe the action and what the system did with it: 'A typo in the hostname passed "
        "validation, because the config linter does not check DNS names.'",
    ),
    # Single root cause ----------------------------------------------------------------------
    _Rule(
        "root-cause-single",
        "root-cause",
        _phrase(
            r"(?:the root(?:-| )cause(?: (?:was|is))?|root(?:-| )cause (?:was|is))"
            r"(?![-\s]+(?:analysis|analyses|analysing|analyzing|analyse|analyze|template"
            r"|templates|section|sections|field|fields|heading|category|categories|tags?|review"
            r"|reviews|meeting|meetings|docs?|document|documents|process|tool|tooling|workshop"
            r"|session|exercise|framework|method|methodology|approach)\b)"
            r"|the (?:sole|single|real|true|only|one) cause"
        ),
        "Complex outages rarely have a single cause. Naming one root cause stops the search "
        "early, and it tends to land on the last human action in the chain.",
        "List the contributing factors and how they interacted: 'Contributing factors: the "
        "retry storm, the undersized connection pool and the missing load shedding.'",
    ),
    # Hindsight certainty --------------------------------------------------------------------
    _Rule(
        "hindsight-obviously",
        "hindsight",
        _phrase(
            r"obviously|(?P<was>it was (?:clear|obvious|evident) that)"
            r"|(?:it )?should have been (?:clear|obvious)|clearly should"
        ),
        "Things look obvious only once you know the outcome. Calling them obvious tells readers "
        "the people involved missed something easy, when at the time the signal was buried in "
        "noise.",
        _HINDSIGHT_SUGGESTION,
        _clear_is_hindsight,
    ),
    _Rule(
        "hindsight-no-brainer",
        "hindsight",
        _phrase(r"no(?:-| )brainer"),
        "A 'no-brainer' is only visible afterwards. If the choice had been that easy at the time, "
        "it would have been made; the phrase hides what made it hard.",
        _HINDSIGHT_SUGGESTION,
    ),
    _Rule(
        "hindsight-everyone-knows",
        "hindsight",
        _phrase(r"every(?:one|body) (?:knows|knew)|as we all know|common knowledge"),
        "'Everyone knows' assumes knowledge that evidently was not shared, or the incident would "
        "not have happened. It hides a gap in documentation, onboarding or tooling.",
        "Say where the knowledge lived and who could see it: 'The ordering requirement was "
        "written down only in a 2019 design doc that the runbook did not link to.'",
    ),
    _Rule(
        "hindsight-simply",
        "hindsight",
        _phrase(r"simply"),
        "'Simply' makes the right action sound trivial. Had it been trivial at the time, someone "
        "would have taken it; the word hides what made it hard.",
        "Describe what the action actually involved: 'Rolling back meant finding the previous "
        "build ID in the deploy logs, which took 12 minutes under pager load.'",
        _simply_is_hindsight,
    ),
    _Rule(
        "hindsight-just-had-to",
        "hindsight",
        _phrase(
            r"(?:just|only) (?:had|needed) to"
            r"|all (?:he|she|they|we|you|i|someone|anyone|the [\w-]+) (?:had|needed) to do"
        ),
        "'Just had to' shrinks a decision made under pressure to a single obvious step, and "
        "implies the person was at fault for not taking it.",
        "Describe the step and what stood in the way: 'Restarting the consumer required access "
        "the on-call engineer did not have, so they waited for an escalation.'",
    ),
    _Rule(
        "hindsight-should-have-known",
        "hindsight",
        _phrase(r"(?:should|ought to) have known|should've known"),
        "'Should have known' judges people by information they only had after the fact, and "
        "skips the question of how that knowledge was supposed to reach them.",
        "Describe what the person knew and where the missing information lived: 'The on-call "
        "engineer had not been told about the schema migration; it was announced in a channel "
        "they were not in.'",
    ),
    # Individuals named as the cause ---------------------------------------------------------
    _Rule(
        "individual-handle",
        "individual",
        _HANDLE_VERB,
        _INDIVIDUAL_WHY,
        _INDIVIDUAL_SUGGESTION,
    ),
    _Rule(
        "individual-possessive",
        "individual",
        _POSSESSIVE_FAULT,
        _INDIVIDUAL_WHY,
        _INDIVIDUAL_SUGGESTION,
        _looks_like_a_person,
    ),
    _Rule(
        "individual-possessive",
        "individual",
        _POSSESSIVE_CHANGE,
        _INDIVIDUAL_WHY,
        _INDIVIDUAL_SUGGESTION,
        _looks_like_a_person,
    ),
    _Rule(
        "individual-blame-verb",
        "individual",
        _NAME_BLAME_VERB,
        _INDIVIDUAL_WHY,
        _INDIVIDUAL_SUGGESTION,
        _looks_like_a_person_or_pronoun,
    ),
    _Rule(
        "individual-role",
        "individual",
        _ROLE_WHO,
        "Even without a name, 'the engineer who deployed' singles someone out as the culprit; "
        "readers will work out who it was.",
        "Describe the action, not the actor: 'The 14:02 deploy included the migration that "
        "locked the orders table.'",
    ),
)


# --- Public API -----------------------------------------------------------------------------


def lint_text(text: str) -> list[Hint]:
    """Hints for `text`, in order of position.

    Matches of one rule never overlap (the earlier, then longer, match wins); different rules
    may point at overlapping words, because they say different things about them.
    """
    if not text:
        return []
    found: list[Hint] = []
    for rule in _RULES:
        for m in rule.pattern.finditer(text):
            if rule.accept is not None and not rule.accept(text, m):
                continue
            start, end = m.span()
            found.append(
                Hint(
                    rule=rule.id,
                    category=rule.category,
                    start=start,
                    end=end,
                    excerpt=text[start:end],
                    why=rule.why,
                    suggestion=rule.suggestion,
                )
            )
    found.sort(key=lambda h: (h.start, -h.end, h.rule))
    hints: list[Hint] = []
    reached: dict[str, int] = {}
    for hint in found:
        if hint.start < reached.get(hint.rule, -1):
            continue
        reached[hint.rule] = hint.end
        hints.append(hint)
    return hints


def lint_sections(sections: Mapping[str, str | None]) -> dict[str, list[Hint]]:
    """Lint several named fields at once; only fields with hints appear, in the given order."""
    result: dict[str, list[Hint]] = {}
    for name, text in sections.items():
        hints = lint_text(text or "")
        if hints:
            result[name] = hints
    return result
