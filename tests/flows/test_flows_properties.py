"""Property tests: whatever people send, the engine answers or ends, never raises, and never runs away."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows import Context, resume, start
from flows.lexicon import default_lexicon
from flows.text import to_latin
from tests.flows.flows_support import NOW, ROUND_FHC, ROUND_KG, VOTE

FLOW_IDS = ["scorecard", "complaint", "meeting_rsvp", "join", "water_kiosk_check", "ldf_vote"]
STATUSES = {"waiting", "completed", "failed", "expired", "home", "goto"}
MEETING = {"title": "ИНХ", "date": "2026-06-20", "time": "18:00", "place": {"mn": "хороо", "en": "khoroo"}}

TEN_KB = "x" * 10_000
awkward = st.sampled_from([
    "", " ", "0", "00", "99", "98", "1", "2", "5", "\u200f", "\u202e1", "😀", "😀" * 40, TEN_KB,
    "ГОМДОЛ", "tiim", "ugui", "6/20", "Сонгинохайрхан", "\x00", "\ufeff", "١", "２",
])
inputs = st.lists(st.one_of(st.text(max_size=300), awkward), max_size=25)
contexts = st.builds(
    lambda channel, language, script: (channel, language, script),
    st.sampled_from(["sms", "ussd"]), st.sampled_from(["mn", "en"]), st.sampled_from(["cyrl", "latn"]),
)
round_lists = st.sampled_from([[], [ROUND_KG], [ROUND_KG, ROUND_FHC]])


def make_context(catalog, channel, language, script, rounds):
    """The vote flow sees one open vote, and (when there are rounds) that it is the person's own unit's."""
    votes = {"votes": [VOTE], **({"home": VOTE} if rounds else {})}
    return Context(channel, language, script, NOW, {"rounds": rounds, "ref": "G-0412", "meeting": MEETING, **votes},
                   catalog)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow_id=st.sampled_from(FLOW_IDS), setup=contexts, rounds=round_lists, texts=inputs)
def test_any_inputs_never_raise_and_always_reply_or_end(flow_set, catalog, flow_id, setup, rounds, texts):
    flow, ctx = flow_set.get(flow_id), make_context(catalog, *setup, rounds)
    outcome = start(flow, ctx)
    for text in texts:
        _check(outcome, ctx)
        if outcome.status != "waiting":
            break
        outcome = resume(flow, json.loads(json.dumps(outcome.state)), text, ctx)
    _check(outcome, ctx)


def _check(outcome, ctx):
    assert outcome.status in STATUSES
    json.dumps(outcome.state)
    json.dumps(outcome.results)
    if outcome.status == "waiting":
        assert outcome.replies and all(reply.strip() for reply in outcome.replies)
    if ctx.channel == "ussd":
        assert len(outcome.replies) <= 1
        assert outcome.status != "waiting" or len(outcome.replies) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow_id=st.sampled_from(FLOW_IDS), setup=contexts, garbage=st.lists(st.sampled_from(["", TEN_KB]),
                                                                            min_size=40, max_size=40))
def test_unanswerable_input_ends_the_run_within_a_bounded_number_of_messages(flow_set, catalog, flow_id, setup,
                                                                                garbage):
    flow, ctx = flow_set.get(flow_id), make_context(catalog, *setup, [ROUND_KG, ROUND_FHC])
    outcome = start(flow, ctx)
    bound = (len(flow.steps) + 1) * (flow.max_retries + 1)
    sent = 0
    while outcome.status == "waiting" and sent < len(garbage):
        outcome = resume(flow, outcome.state, garbage[sent], ctx)
        sent += 1
    assert outcome.status != "waiting" and sent <= bound


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                          lambda children: st.lists(children, max_size=4)
                          | st.dictionaries(st.text(max_size=8), children, max_size=4), max_leaves=20),
       text=st.text(max_size=50))
def test_corrupt_state_fails_politely(flow_set, catalog, state, text):
    flow = flow_set.get("complaint")
    outcome = resume(flow, state, text, make_context(catalog, "sms", "en", "latn", []))
    assert outcome.status in STATUSES and outcome.replies is not None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(step=st.sampled_from(["category", "unit", "landmark", "description", "anonymous", "registered", "x"]),
       results=st.dictionaries(st.text(max_size=10), st.fixed_dictionaries({"value": st.text(max_size=5)}),
                               max_size=3),
       extra=st.dictionaries(st.sampled_from(["page", "item", "retries", "unit", "back", "status"]),
                             st.one_of(st.integers(-5, 200), st.text(max_size=5), st.none(),
                                       st.just({"parent": "nope"}), st.just([{}])), max_size=4),
       text=st.one_of(st.text(max_size=30), awkward))
def test_plausible_but_wrong_state_never_raises(flow_set, catalog, step, results, extra, text):
    state = {"flow": "complaint", "step": step, "status": "waiting", "results": results, **extra}
    for channel in ("sms", "ussd"):
        outcome = resume(flow_set.get("complaint"), state, text, make_context(catalog, channel, "mn", "cyrl", []))
        assert outcome.status in STATUSES


RSVP_WORDS = [(answer, word) for answer in ("yes", "no", "maybe")
              for word in default_lexicon().words(f"rsvp_{answer}")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=st.sampled_from(RSVP_WORDS), particle=st.sampled_from(["", " ээ", " шүү", " please", "!", " 🙂"]),
       latin=st.booleans(), setup=contexts)
def test_every_rsvp_word_is_an_answer_without_a_failure_event(flow_set, catalog, entry, particle, latin, setup):
    answer, word = entry
    flow, ctx = flow_set.get("meeting_rsvp"), make_context(catalog, *setup, [])
    outcome = resume(flow, start(flow, ctx).state, (to_latin(word) if latin else word) + particle, ctx)
    assert outcome.results["rsvp"]["value"] == answer
    assert not {"answer_rejected", "run_failed"} & {event["type"] for event in outcome.events}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True),
       separator=st.sampled_from([" ", ",", ", ", " ба ", " and ", "; ", "  "]), latin=st.booleans())
def test_up_to_k_project_numbers_are_one_answer_without_a_failure_event(flow_set, catalog, picks, separator, latin):
    flow, ctx = flow_set.get("ldf_vote"), make_context(catalog, "sms", "mn", "latn" if latin else "cyrl", [ROUND_KG])
    outcome = start(flow, ctx)
    for text in ("1", "5", separator.join(map(str, picks))):  # my khoroo, no group, the projects
        outcome = resume(flow, outcome.state, text, ctx)
    assert outcome.results["choice"]["value"] == " ".join(map(str, picks))
    assert not {"answer_rejected", "run_failed"} & {event["type"] for event in outcome.events}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=st.integers(0, 24), form=st.sampled_from(["{}", "#{}", "{} цаг", "{}.", "  {}  "]),
       setup=contexts)
def test_a_well_formed_number_is_never_rejected(flow_set, catalog, number, form, setup):
    flow, ctx = flow_set.get("water_kiosk_check"), make_context(catalog, *setup, [])
    closed = resume(flow, start(flow, ctx).state, "2", ctx)
    outcome = resume(flow, closed.state, form.format(number), ctx)
    assert outcome.results["hours_closed"]["value"] == number
    assert not {"answer_rejected", "run_failed"} & {event["type"] for event in outcome.events}
