"""The lexicon: every word people use for yes, no, maybe, RSVP, numbers… is understood in both scripts."""
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.lexicon import ANSWER_GROUPS, LexiconError, default_lexicon, load_lexicon
from flows.loader import flow_files
from flows.text import detect_script, to_latin

LEXICON = default_lexicon()
CLASS_WORDS = sorted((name, word) for name in LEXICON.classes for word in LEXICON.words(name))
NUMBER_WORDS = sorted((number, word) for number, words in LEXICON.number_words().items() for word in words)


# ---- the words the issue lists --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["тийм ээ", "тиймээ", "за", "zaa", "ok", "yes please", "tiimee", "Тийм!", "TIIM",
                                  "ЗА ЗА", "за тэгье", "okey", "yes, thanks"])
def test_colloquial_yes(text):
    assert LEXICON.means(text, "yes") and not LEXICON.means(text, "no")


@pytest.mark.parametrize("text", ["ugui ee", "үгүй ээ", "үгүйээ", "vgvi", "ҮГҮЙ", "no thanks", "ugi", "үгvй"])
def test_colloquial_no(text):
    assert LEXICON.means(text, "no") and not LEXICON.means(text, "yes")


@pytest.mark.parametrize(("text", "meaning"), [
    ("за", "rsvp_yes"), ("тиймээ", "rsvp_yes"), ("очно", "rsvp_yes"), ("irne ee", "rsvp_yes"),
    ("yes please", "rsvp_yes"), ("Би очно оо", "rsvp_yes"), ("ирнэ шүү", "rsvp_yes"), ("coming", "rsvp_yes"),
    ("ирж чадахгүй", "rsvp_no"), ("irj chadahgui", "rsvp_no"), ("ugui ee", "rsvp_no"), ("can't come", "rsvp_no"),
    ("магадгүй", "rsvp_maybe"), ("magadgui", "rsvp_maybe"), ("maybe", "rsvp_maybe"), ("ирж магадгүй", "rsvp_maybe"),
])
def test_rsvp_words_in_all_three_forms(text, meaning):
    others = {"rsvp_yes", "rsvp_no", "rsvp_maybe"} - {meaning}
    assert LEXICON.means(text, meaning) and not LEXICON.meanings(text) & others


WHY = [("тийм ээ", "yes"), ("тиймээ", "yes"), ("за", "yes"), ("zaa", "yes"), ("ok", "yes"), ("yes please", "yes"),
       ("tiimee", "yes"), ("ugui ee", "no"), ("үгүй ээ", "no"), ("за", "rsvp_yes"), ("тиймээ", "rsvp_yes"),
       ("очно", "rsvp_yes"), ("irne ee", "rsvp_yes"), ("yes please", "rsvp_yes"), ("ирж чадахгүй", "rsvp_no")]


@pytest.mark.parametrize(("text", "meaning"), WHY)
@pytest.mark.parametrize("particle", ["", " ээ", " шүү", " гэж", " ee", " shuu", " gej"])
def test_every_word_the_issue_lists_with_and_without_particles_in_both_scripts(text, meaning, particle):
    for typed in {text, to_latin(text), text.upper()}:
        assert LEXICON.means(typed + particle, meaning), typed + particle


@pytest.mark.parametrize("text", ["Хэдэн цагт эхлэх вэ?", "тийм биш байх аа", "", "   ", "😀", "1",
                                  "ирнэ гэхдээ хоцорно"])
def test_other_text_means_nothing(text):
    assert not LEXICON.meanings(text) & {"yes", "no", "rsvp_yes", "rsvp_no", "rsvp_maybe"}


@pytest.mark.parametrize(("text", "number"), [
    ("тав", 5), ("дөрөв", 4), ("five", 5), ("таван", 5), ("dorvon", 4), ("нэг", 1), ("арав", 10), ("тэг", 0),
    ("zurga", 6), ("ес", 9), ("Zero", 0),
])
def test_number_words(text, number):
    assert LEXICON.number(text) == number


def test_latin_yes_is_an_answer_not_the_number_nine():
    assert LEXICON.number("yes") is None and LEXICON.number("ес") == 9


# ---- every word of every class, however it is typed ------------------------------------------------------

def _typed_forms(word: str) -> list[str]:
    forms = [word, word.upper(), f" {word}!!"]
    if detect_script(word) == "cyrl":
        forms += [to_latin(word), to_latin(word).upper()]
        forms.append(word.replace("ө", "є").replace("ү", "v"))  # keyboards without Mongolian letters
    return forms


@pytest.mark.parametrize(("name", "word"), CLASS_WORDS)
def test_every_word_of_a_class_means_that_class_however_typed(name, word):
    for typed in _typed_forms(word):
        assert LEXICON.means(typed, name), (typed, name)


@given(entry=st.sampled_from(CLASS_WORDS), particle=st.sampled_from(LEXICON.particles()),
       before=st.booleans(), latin=st.booleans())
def test_particles_around_a_word_are_ignored(entry, particle, before, latin):
    name, word = entry
    word = to_latin(word) if latin else word
    text = f"{particle} {word}" if before else f"{word} {particle}"
    assert LEXICON.means(text, name), text


@given(entry=st.sampled_from(CLASS_WORDS), data=st.data())
def test_one_dropped_vowel_is_still_the_word(entry, data):
    name, word = entry
    # Plain vowels only: я, ю, ё and the e of "ye" carry a y that a dropped letter would take with it.
    vowels = [index for index, char in enumerate(word.lower())
              if char in "аэиоуөүыaeiou" and not word.lower()[index - 1:index] == "y"]
    if " " in word or len(word) < 5 or not vowels:
        return
    index = data.draw(st.sampled_from(vowels))
    misspelt = word[:index] + word[index + 1:]
    assert LEXICON.means(misspelt, name), misspelt


@pytest.mark.parametrize(("number", "word"), NUMBER_WORDS)
def test_every_number_word_names_its_number_however_typed(number, word):
    for typed in _typed_forms(word):
        if detect_script(typed) != "cyrl" and LEXICON.meanings(typed) & {"yes", "no", "maybe"}:
            continue  # "yes" for ес (nine) is read as the answer
        assert LEXICON.number(typed) == number, typed


def test_no_word_means_two_answers_of_one_question():
    for group in ANSWER_GROUPS:
        for first in group:
            for word in LEXICON.words(first):
                clash = LEXICON.meanings(word) & set(group) - {first}
                assert not clash, (word, first, clash)


@given(st.text(max_size=300))
def test_matching_is_total(text):
    assert isinstance(LEXICON.meanings(text), frozenset)
    assert LEXICON.number(text) is None or isinstance(LEXICON.number(text), int)


# ---- the object and its files ----------------------------------------------------------------------------

def test_the_lexicon_is_immutable():
    with pytest.raises(AttributeError):
        LEXICON.classes = frozenset()
    with pytest.raises(TypeError):
        LEXICON._meanings["new"] = frozenset({"yes"})


def test_the_lexicon_file_is_not_read_as_a_flow():
    assert all(path.name != "lexicon.yaml" for path in flow_files([], bundled=True))


def test_staff_add_words_and_numbers_in_their_own_file(tmp_path):
    extra = tmp_path / "words.yaml"
    extra.write_text("particles: [шүүдээ]\nclasses:\n  rsvp_yes: [заавал очно]\n  skip: [pass]\n"
                     "numbers:\n  5: [тавхан]\n  11: [арван нэг]\n", encoding="utf-8")
    lexicon = load_lexicon([extra])
    assert lexicon.means("заавал очно шүүдээ", "rsvp_yes") and lexicon.means("pass", "skip")
    assert lexicon.number("тавхан") == 5 and lexicon.number("арван нэг") == 11
    assert not default_lexicon().means("заавал очно", "rsvp_yes")  # the bundled one is untouched
    assert lexicon.means("очно", "rsvp_yes")


@pytest.mark.parametrize(("content", "complaint"), [
    ("classes:\n  rsvp-yes: [ok]\n", "unknown class 'rsvp-yes'"),
    ("classes:\n  yes: [ирэхгүй]\n", "means both"),
    ("classes:\n  yes: ok\n", "is a list of words"),
    ("classes:\n  skip: [\"-\"]\n", "no letters or digits"),
    ("numbers:\n  five: [tav]\n", "not a whole number"),
    ("numbers:\n  4: [тав]\n", "names both"),
    ("wordz: [a]\n", "only 'particles', 'classes' and 'numbers'"),
    ("classes: [\n", "YAML syntax"),
    ("classes:\n  yes: {include: [nope]}\n", "unknown class 'nope'"),
])
def test_broken_staff_files_are_refused_with_the_reason(tmp_path, content, complaint):
    extra = tmp_path / "broken.yaml"
    extra.write_text(content, encoding="utf-8")
    with pytest.raises(LexiconError, match=complaint) as raised:
        load_lexicon([extra])
    assert str(raised.value).startswith(str(extra))


def test_a_missing_staff_file_is_refused(tmp_path):
    with pytest.raises(LexiconError, match="cannot read"):
        load_lexicon([tmp_path / "nope.yaml"])


def test_yaml_1_2_keeps_yes_and_no_as_words(tmp_path):
    extra = tmp_path / "words.yaml"
    extra.write_text("classes:\n  no: [off, n0pe]\n", encoding="utf-8")
    assert load_lexicon([extra]).means("off", "no")


def test_the_staff_file_in_the_docs_works(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "flows.md").read_text(encoding="utf-8")
    example = next(block for block in re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
                   if block.startswith("# my_words.yaml"))
    (tmp_path / "my_words.yaml").write_text(example, encoding="utf-8")
    lexicon = load_lexicon([tmp_path / "my_words.yaml"])
    assert lexicon.means("zaaval ochno daa", "rsvp_yes") and lexicon.means("малтай", "rsvp_no")
    assert lexicon.number("тавхан") == 5
