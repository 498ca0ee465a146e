def test_top_level_lists_districts_and_soums_only(catalog):
    assert [unit.code for unit in catalog.top_level()] == ["SKhD", "BGD", "ZA-TES", "ZA-ULS"]


def test_children_are_sorted_by_code(catalog):
    codes = [unit.code for unit in catalog.children("SKhD")]
    assert codes[:3] == ["SKhD-01", "SKhD-02", "SKhD-03"] and len(codes) == 32
    assert catalog.children("ZA-TES") == []


def test_get_returns_the_unit_or_none(catalog):
    assert catalog.get("BGD").name_en == "Bayangol district"
    assert catalog.get("nope") is None


def test_names_match_in_either_script_without_the_generic_word(catalog):
    top = catalog.top_level()
    for typed in ("Сонгинохайрхан", "songinohairhan", "Songinokhairkhan district", "SONGINOHAIRHAN", "skhd"):
        assert catalog.match(typed, top).code == "SKhD"
    assert catalog.match("Тэс", top).code == "ZA-TES"
    assert catalog.match("uliastai", top).code == "ZA-ULS"


def test_unclear_names_match_nothing(catalog):
    top = catalog.top_level()
    assert catalog.match("", top) is None
    assert catalog.match("дүүрэг", top) is None
    assert catalog.match("zzz", top) is None


def test_short_names_drop_what_the_question_already_says(catalog):
    assert catalog.get("SKhD-07").short_name("mn", "cyrl") == "7-р хороо"
    assert catalog.get("SKhD-07").short_name("mn", "latn") == "7-r horoo"
    assert catalog.get("SKhD").short_name("mn", "cyrl") == "Сонгинохайрхан"
    assert catalog.get("ZA-TES").short_name("en") == "Tes"


def test_find_looks_at_top_level_or_children(catalog):
    assert catalog.find("Баянгол").code == "BGD"
    assert catalog.find("3-r horoo", parent="BGD").code == "BGD-03"
    assert catalog.find("Баянгол", parent="BGD") is None
