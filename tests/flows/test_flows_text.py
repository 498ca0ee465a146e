import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.text import detect_script, is_gsm7, normalize, same_word, sms_encoding, sms_segments, sms_size, to_latin


@pytest.mark.parametrize("written", ["ГОМДОЛ!", "gomdol", "Гомдол", "гомдол", "GOMDOL", "ГOMДOЛ", " gomdol\u200f "])
def test_complaint_keyword_spellings_normalise_alike(written):
    assert normalize(written) == normalize("gomdol")


@pytest.mark.parametrize(("first", "second"), [
    ("Тийм", "tiim"), ("Тийм", "TIM"), ("Үгүй", "ugui"), ("ҮГҮЙ", "VGVI"), ("үгvй", "ugui"),
    ("Хариулахгүй", "hariulahgui"), ("Хариулахгүй", "khariulakhgüi"), ("цэцэрлэг", "tsetserleg"),
    ("цэцэрлэг", "cecerleg"), ("ЗОГС", "zogs"), ("ТУСЛАМЖ", "tuslamj"), ("Эхлэх", "ehleh"), ("ус", "us"),
    ("Өнөөдөр", "unuudur"), ("өнөөдөр", "öнөөдөр"), ("Єнєєдєр", "өнөөдөр"),
])
def test_informal_latin_and_lookalikes_meet_cyrillic(first, second):
    assert normalize(first) == normalize(second)


def test_normalise_strips_punctuation_emoji_and_rtl_marks():
    assert normalize("  Тийм!!! 😀\u200f\u202e ") == "tim"
    assert normalize("Залуу (16–24)") == "zaluu 16 24"


def test_english_words_keep_latin_letters():
    assert normalize("Water") == normalize("water")
    assert normalize("complaint") != normalize("gomdol")


def test_same_word_accepts_one_dropped_vowel_only():
    assert same_word("gomdl", "gomdol")
    assert same_word("ГОМДЛ", "gomdol")
    assert not same_word("gmdl", "gomdol")
    assert not same_word("us", "u")  # too short to guess
    assert not same_word("", "")


def test_to_latin_writes_the_way_people_in_mongolia_text():
    # The example: machine-made Latin used to read "Khurlyn zar … Pürev … irekhgüi … üü".
    assert to_latin("Хурлын зар: Пүрэв гаригт ирэхгүй юу? үү") == "Hurliin zar: Purev garigt irehgui yuu? uu"
    latin = to_latin("Өнөөдөр ус түгээх байр «нээлттэй» – 5000₮…")
    assert latin == 'Onoodor us tugeeh bair "neelttei" - 5000tug...' and is_gsm7(latin)


@pytest.mark.parametrize(("cyrillic", "latin"), [
    ("хүүхэд", "huuhed"), ("өдөр", "odor"), ("Таны", "Tanii"), ("Хийх", "Hiih"), ("Сайн", "Sain"),
    ("амьдрал", "amidral"), ("сургууль", "surguuli"), ("Ерөнхий", "Yeronhii"), ("эелдэг", "eeldeg"),
    ("ёс", "yos"), ("Юу", "Yuu"), ("Яруу", "Yaruu"), ("Цэцэг", "Tsetseg"), ("чи", "chi"), ("шүү", "shuu"),
    ("щётка", "shyotka"), ("жишээ", "jishee"), ("объект", "obekt"), ("Хан-Уул", "Han-Uul"),
])
def test_to_latin_letter_table(cyrillic, latin):
    assert to_latin(cyrillic) == latin


@pytest.mark.parametrize(("cyrillic", "latin"), [
    ("ЗОГС", "ZOGS"), ("ИНХ", "INH"), ("ШҮҮ", "SHUU"), ("Шинэ", "Shine"), ("Ч.Болд", "Ch.Bold"), ("ЦАГ", "TSAG"),
])
def test_to_latin_keeps_capitals_as_written(cyrillic, latin):
    assert to_latin(cyrillic) == latin


def test_to_latin_drops_diacritics_from_latin_too():
    assert to_latin("Songinokhairkhan düüreg, Pürev, café") == "Songinokhairkhan duureg, Purev, cafe"


@given(st.text(max_size=200))
def test_to_latin_is_always_gsm7(text):
    assert is_gsm7(to_latin(text))


MONGOLIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяөү"


@given(st.text(alphabet=MONGOLIAN + MONGOLIAN.upper() + " -,.!?0123456789", max_size=40))
def test_texting_latin_matches_the_cyrillic_it_came_from(text):
    """People copy what we send: both spellings must stay the same word for matching."""
    assert normalize(to_latin(text)) == normalize(text)


@given(st.text(max_size=100))
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@pytest.mark.parametrize(("text", "script"), [
    ("Сайн байна уу", "cyrl"), ("Sain baina uu", "latn"), ("123 !", None), ("", None), ("гOMДOЛ", "cyrl"),
])
def test_detect_script(text, script):
    assert detect_script(text) == script


# protocols.md §4.3 test vectors
@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("Sain baina uu", "GSM-7", 13, 1),
    ("Сайн байна уу", "UCS-2", 13, 1),
    ("Өглөөний мэнд! Үнэ: 5000₮", "UCS-2", 25, 1),
    ("ө" * 70, "UCS-2", 70, 1),
    ("ө" * 71, "UCS-2", 71, 2),
    ("ө" * 134, "UCS-2", 134, 2),
    ("ө" * 135, "UCS-2", 135, 3),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("€" * 80, "GSM-7", 160, 1),
    ("€" * 81, "GSM-7", 162, 2),
    ("😀" * 35, "UCS-2", 70, 1),
])
def test_sms_size_matches_protocol_vectors(text, encoding, units, segments):
    size = sms_size(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)
    assert sms_encoding(text) == encoding and sms_segments(text) == segments


def test_escape_pairs_are_not_split_across_parts():
    # 152 plain characters then a 2-septet euro: the euro cannot start in the last septet of part one.
    assert sms_size("a" * 152 + "€" + "a" * 152).segments == 3
    assert sms_size("a" * 151 + "€" + "a" * 153).segments == 2


def test_surrogate_pairs_are_not_split_across_parts():
    assert sms_size("a" * 66 + "😀" + "a" * 66).segments == 3


@given(st.integers(min_value=161, max_value=2000))
def test_long_gsm_messages_use_153_septets_per_part(length):
    assert sms_segments("a" * length) == -(-length // 153)


def test_texting_o_and_u_spellings_normalise_alike():
    assert normalize("Onoodor") == normalize("Өнөөдөр") == normalize("unuudur")
    assert normalize("zovhon") == normalize("zuvhun") == normalize("Зөвхөн")


def test_same_word_is_loose_on_o_and_u_for_the_letter_oe():
    assert same_word("dorvoljin", "Дөрвөлжин")
    assert same_word("onoodor", "өнөөдөр")
    assert not same_word("dorvoljin", "Дөрвөлжингүй")


@given(st.text(max_size=30), st.text(max_size=30))
def test_same_word_is_symmetric(first, second):
    assert same_word(first, second) == same_word(second, first)
