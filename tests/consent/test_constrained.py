"""The constrained pass's grammar: where negations may stand, and reading a hypothesis back."""
from consent.constrained import NEGATION_PRIOR, PHONE_WORD_PREFIX, consent_grammar, name_grammar, parse, transitions
from consent.statement import StatementChecker, nonce_vocabulary

NONCE = ("harbor", "pencil", "tiger", "violin")


def grammar(name="Nora Knott"):
    phrase, name_span, nonce_span = StatementChecker._phrase_parts(name, NONCE)
    return phrase, consent_grammar(phrase, name_span, nonce_span, nonce_vocabulary())


def test_the_plain_reading_parses_without_negation():
    phrase, slots = grammar()
    paths = parse(tuple(phrase), slots)
    assert paths is not None
    assert not any(p.negated for p in paths) and any(p.name for p in paths)
    assert tuple(p.words[0] for p in paths if p.nonce) == NONCE


def test_negated_forms_and_asides_are_found_where_they_stand():
    phrase, slots = grammar()
    said = " ".join(phrase)
    for negated, form in ((said.replace("i agree", "i do not agree"), "i do not agree"),
                          (said.replace("may create", "may never create"), "may never create"),
                          (said + " i withdraw my consent", "i withdraw my consent"),
                          ("no " + said, "no")):
        paths = parse(tuple(negated.split()), slots)
        assert [" ".join(p.words) for p in paths if p.negated] == [form], negated


def test_the_name_is_its_pronunciations_or_any_run_of_phonemes_and_holds_no_negation():
    phrase, slots = grammar()
    name_slot = next(slot for slot in slots if any(p.name for p in slot))
    assert not any(p.negated or p.loop for p in name_slot)  # "Knott" cannot be heard as a negation
    name_span, nonce_span = range(3, 5), range(len(phrase) - 4, len(phrase))
    looped = consent_grammar(phrase, name_span, nonce_span, nonce_vocabulary(), name_as_loop=True)
    loop = f"{PHONE_WORD_PREFIX}n {PHONE_WORD_PREFIX}ao {PHONE_WORD_PREFIX}t"
    said = " ".join(phrase).replace("nora knott", loop)
    paths = parse(tuple(said.split()), looped)
    assert paths is not None and not any(p.name for p in paths) and any(p.loop for p in paths)
    assert parse(tuple(said.split()), slots) is None and parse(tuple(phrase), looped) is None
    assert [p.loop for slot in name_grammar((("nora", "knott"),), as_loop=True) for p in slot] == [True]


def test_a_replay_is_heard_as_its_own_words():
    phrase, slots = grammar()
    replay = " ".join(phrase[:-4] + ["meadow", "lantern", "rocket", "pilot"])
    paths = parse(tuple(replay.split()), slots)
    assert tuple(p.words[0] for p in paths if p.nonce) == ("meadow", "lantern", "rocket", "pilot")


def test_transitions_form_one_chain_with_negations_unlikely():
    _, slots = grammar()
    final, arcs = transitions(slots)
    starts = {a[0] for a in arcs}
    assert 0 in starts and final not in starts
    negated_paths = sum(p.negated for slot in slots for p in slot)
    assert negated_paths > 40 and sum(len(a) == 4 and a[2] == NEGATION_PRIOR for a in arcs) == negated_paths
