"""The words people send back, by meaning: ``flows/lexicon.yaml`` plus any staff files, matched forgivingly.

Every word is reduced once, at load time, to the key ``normalize`` gives (script, case and informal spelling
folded), so a look-up is a few dictionary reads: the whole text, then the text without the particles people add
around a word (``тийм ээ``, ``yes please``), then without a particle joined to the word (``тиймээ``). Words of four
letters or more also match with one vowel dropped (``ugi`` = ``ugui``), unless that would make them ambiguous.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from flows.text import detect_script, normalize

BUNDLED_PATH = Path(__file__).resolve().parent / "lexicon.yaml"
# Answers to one question: a word may mean only one of them (checked at load time).
ANSWER_GROUPS = (("yes", "no", "maybe"), ("rsvp_yes", "rsvp_no", "rsvp_maybe"))
ANSWER_CLASSES = frozenset(name for group in ANSWER_GROUPS for name in group)
MAX_NUMBER_WORD = 1000
_JOINED_PARTICLES = ("ee", "uu", "aa", "e", "u", "a")  # тиймээ, очноо, ирнээ (after normalize)
_SHORTEST_STEM = 3
_MOST_TOKENS = 8  # particles are looked for only in short replies
_LONGEST_REPLY = 200
_SHORTEST_FUZZY = 4
_VOWELS = "aeiu"  # what normalize leaves of the vowels (o and y fold into u and i)
_LONG_RUN = re.compile(r"([a-z])\1{2,}")  # "zaaaa" → "zaa", "okkk" → "okk"


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Lexicon:
    """Immutable word classes (``yes``, ``rsvp_no``, ``skip``…) and number words, ready for fast matching."""

    classes: frozenset[str]
    _words: Mapping[str, tuple[str, ...]]
    _numbers_written: Mapping[int, tuple[str, ...]]
    _particles: tuple[tuple[str, ...], ...]
    _meanings: Mapping[str, frozenset[str]]
    _loose_meanings: Mapping[str, frozenset[str]]
    _numbers: Mapping[str, int]
    _loose_numbers: Mapping[str, int]

    def meanings(self, text: str) -> frozenset[str]:
        """Every class the whole *text* means (``"тийм ээ"`` → ``{yes, rsvp_yes}``); empty when none.

        Each reading adds its classes, but a reading closer to the text as sent decides an answer group.
        """
        found: set[str] = set()
        for reading in self._readings(text):
            for index in (self._meanings, self._loose_meanings):  # as spelt first, then with a vowel dropped
                decided = {name for group in ANSWER_GROUPS if found & set(group) for name in group}
                found |= index.get(reading, frozenset()) - decided
        return frozenset(found)

    def means(self, text: str, word_class: str) -> bool:
        return word_class in self.meanings(text)

    def number(self, text: str) -> int | None:
        """The number a word names (``тав``, ``five``, ``таван``); None when it names none.

        A Latin word that is also an answer (``yes``, texted ес = nine) is read as the answer, not as a number.
        """
        for reading in self._readings(text):
            found = self._numbers.get(reading, self._loose_numbers.get(reading))
            if found is not None:
                answer = detect_script(text) != "cyrl" and self.meanings(text) & ANSWER_CLASSES
                return None if answer else found
        return None

    def words(self, word_class: str) -> tuple[str, ...]:
        """The words of a class as written in the files (included classes too); empty for an unknown class."""
        return self._words.get(word_class, ())

    def number_words(self) -> Mapping[int, tuple[str, ...]]:
        return self._numbers_written

    def particles(self) -> tuple[str, ...]:
        return tuple(" ".join(tokens) for tokens in self._particles)

    def _readings(self, text: str) -> Iterator[str]:
        """The text's key, then the key with particles stripped from either end, then without a joined one."""
        if len(text) > _LONGEST_REPLY:  # a letter, not a word: nothing in the lexicon is this long
            return
        tokens = match_key(text).split()
        if not tokens:
            return
        yield " ".join(tokens)
        if len(tokens) > _MOST_TOKENS:  # a sentence, not a word with particles
            return
        count = len(tokens)
        starts = [index for index in range(count) if self._only_particles(tuple(tokens[:index]))]
        ends = [index for index in range(1, count + 1) if self._only_particles(tuple(tokens[index:]))]
        spans = sorted(((start, end) for start in starts for end in ends if start < end), key=lambda s: s[0] - s[1])
        for start, end in spans[1:] if spans and spans[0] == (0, count) else spans:
            yield " ".join(tokens[start:end])
        for start, end in spans:
            *head, last = tokens[start:end]
            for particle in _JOINED_PARTICLES:
                if last.endswith(particle) and len(last) - len(particle) >= _SHORTEST_STEM:
                    yield " ".join([*head, last[:-len(particle)]])

    def _only_particles(self, tokens: tuple[str, ...]) -> bool:
        if not tokens:
            return True
        return any(tokens[:len(particle)] == particle and self._only_particles(tokens[len(particle):])
                   for particle in self._particles)


@lru_cache(maxsize=4096)  # replies repeat ("1", "за"); long texts never get here (see _readings)
def match_key(text: str) -> str:
    """The key a word is matched by: ``normalize``, with letters held down (``zaaaa``) shortened to two."""
    return _LONG_RUN.sub(r"\1\1", normalize(text))


# ---- loading ---------------------------------------------------------------------------------------------

def load_lexicon(extra_paths: Iterable[str | Path] = ()) -> Lexicon:
    """The bundled lexicon merged with staff files (config ``flows.lexicon_paths``); raises LexiconError.

    Staff files add words to the bundled classes, particles and numbers; they cannot invent classes, since
    flows name classes in ``means:`` and are checked against the bundled ones.
    """
    stamps = []
    for path in (BUNDLED_PATH, *(Path(item) for item in extra_paths)):
        try:
            stat = path.stat()
        except OSError as error:
            raise LexiconError(f"{path}: cannot read lexicon file: {error.strerror or error}") from None
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return _load_unchanged(tuple(stamps))


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The bundled lexicon alone (what the engine uses when the context brings none): package data, read once."""
    return load_lexicon()


@lru_cache(maxsize=16)
def _load_unchanged(stamps: tuple[tuple[str, int, int], ...]) -> Lexicon:
    # Keyed on modification time and size, like flow files: read once per process until a file changes.
    bundled, *extras = [Path(path) for path, _, _ in stamps]
    merged = _Merged()
    merged.add(_read(bundled), bundled, new_classes=True)
    for path in extras:
        merged.add(_read(path), path, new_classes=False)
    return merged.build()


def _read(path: Path) -> dict:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)  # yes/no/on/off stay words
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise LexiconError(f"{path}: cannot read lexicon file: {error}") from None
    except YAMLError as error:
        raise LexiconError(f"{path}: YAML syntax: {error}") from None
    data = {} if data is None else data
    if not isinstance(data, dict) or set(data) - {"particles", "classes", "numbers"}:
        raise LexiconError(f"{path}: a lexicon file has only 'particles', 'classes' and 'numbers'")
    return data


class _Merged:
    """Words gathered from the files, checked as they arrive."""

    def __init__(self) -> None:
        self.particles: list[str] = []
        self.words: dict[str, list[str]] = {}
        self.includes: dict[str, list[str]] = {}
        self.numbers: dict[int, list[str]] = {}
        self.sources: dict[str, Path] = {}  # word key → the file that last added it, for error messages

    def add(self, data: dict, path: Path, new_classes: bool) -> None:
        self.particles += self._words_of(data.get("particles") or [], path, "particles")
        classes = data.get("classes") or {}
        if not isinstance(classes, dict):
            raise LexiconError(f"{path}: 'classes' maps class names to words")
        for name, entry in classes.items():
            self._add_class(str(name), entry, path, new_classes)
        numbers = data.get("numbers") or {}
        if not isinstance(numbers, dict):
            raise LexiconError(f"{path}: 'numbers' maps numbers to words")
        for number, words in numbers.items():
            if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_NUMBER_WORD:
                raise LexiconError(f"{path}: numbers: {number!r} is not a whole number 0-{MAX_NUMBER_WORD}")
            self.numbers.setdefault(number, []).extend(self._words_of(words, path, f"numbers {number}"))

    def _add_class(self, name: str, entry: Any, path: Path, new_classes: bool) -> None:
        if name not in self.words and not new_classes:
            known = ", ".join(sorted(self.words))
            raise LexiconError(f"{path}: unknown class '{name}' (a staff file adds words to: {known})")
        entry = {"words": entry} if isinstance(entry, list) else entry
        if not isinstance(entry, dict) or set(entry) - {"words", "include"}:
            raise LexiconError(f"{path}: class '{name}' is a list of words, or has 'words' and 'include'")
        self.words.setdefault(name, []).extend(self._words_of(entry.get("words") or [], path, name))
        self.includes.setdefault(name, []).extend(_word_list(entry.get("include") or [], path, f"{name} include"))
        unknown = [other for other in self.includes[name] if other not in self.words and other != name]
        if unknown and not new_classes:
            raise LexiconError(f"{path}: class '{name}' includes unknown class '{unknown[0]}'")

    def _words_of(self, raw: Any, path: Path, where: str) -> list[str]:
        words = _word_list(raw, path, where)
        for word in words:
            key = match_key(word)
            if not key:
                raise LexiconError(f"{path}: {where}: '{word}' has no letters or digits to match"
                                   " (punctuation and emoji are ignored)")
            self.sources[key] = path
        return words

    def build(self) -> Lexicon:
        written = {name: tuple(dict.fromkeys(self._expanded(name, ()))) for name in self.words}
        meanings = _index(written)
        _check_answer_groups(meanings, self.sources)
        numbers = _number_index(self.numbers, self.sources)
        particles = tuple(sorted({tuple(match_key(word).split()) for word in self.particles} - {()},
                                 key=len, reverse=True))
        return Lexicon(
            classes=frozenset(written), _words=MappingProxyType(written),
            _numbers_written=MappingProxyType({n: tuple(dict.fromkeys(w)) for n, w in sorted(self.numbers.items())}),
            _particles=particles, _meanings=MappingProxyType(meanings),
            _loose_meanings=MappingProxyType(_loose_index(meanings)), _numbers=MappingProxyType(numbers),
            _loose_numbers=MappingProxyType(_loose_number_index(numbers)),
        )

    def _expanded(self, name: str, trail: tuple[str, ...]) -> Iterator[str]:
        if name in trail:
            raise LexiconError(f"class '{name}' includes itself (through {' → '.join(trail)})")
        if name not in self.words:
            raise LexiconError(f"class '{trail[-1]}' includes unknown class '{name}'")
        yield from self.words[name]
        for other in self.includes.get(name, []):
            yield from self._expanded(other, trail + (name,))


def _word_list(raw: Any, path: Path, where: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(word, str | int) and not isinstance(word, bool)
                                            for word in raw):
        raise LexiconError(f"{path}: {where}: expected a list of words")
    return [str(word) for word in raw]


def _index(words: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for name, class_words in words.items():
        for word in class_words:
            index.setdefault(match_key(word), set()).add(name)
    return {key: frozenset(names) for key, names in index.items()}


def _check_answer_groups(meanings: Mapping[str, frozenset[str]], sources: Mapping[str, Path]) -> None:
    for key, names in meanings.items():
        for group in ANSWER_GROUPS:
            clash = sorted(names & set(group))
            if len(clash) > 1:
                raise LexiconError(f"{sources.get(key, 'lexicon')}: the word '{key}' means both {clash[0]} and"
                                   f" {clash[1]}; keep it in one of them")


def _loose_index(meanings: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """One-vowel-dropped spellings; a spelling that could mean two answers of one question is left out."""
    loose: dict[str, set[str]] = {}
    for key, names in meanings.items():
        for variant in _dropped_vowel(key):
            loose.setdefault(variant, set()).update(names)
    for names in loose.values():
        for group in ANSWER_GROUPS:
            if len(names & set(group)) > 1:
                names -= set(group)
    return {key: frozenset(names) for key, names in loose.items() if names}


def _number_index(numbers: Mapping[int, list[str]], sources: Mapping[str, Path]) -> dict[str, int]:
    index: dict[str, int] = {}
    for number, words in numbers.items():
        for word in words:
            key = match_key(word)
            if index.setdefault(key, number) != number:
                raise LexiconError(f"{sources.get(key, 'lexicon')}: the word '{word}' names both {index[key]}"
                                   f" and {number}")
    return index


def _loose_number_index(numbers: Mapping[str, int]) -> dict[str, int]:
    loose: dict[str, set[int]] = {}
    for key, number in numbers.items():
        for variant in _dropped_vowel(key):
            if variant not in numbers:
                loose.setdefault(variant, set()).add(number)
    return {key: found.pop() for key, found in loose.items() if len(found) == 1}


def _dropped_vowel(key: str) -> set[str]:
    if " " in key or len(key) < _SHORTEST_FUZZY:
        return set()
    return {key[:index] + key[index + 1:] for index, char in enumerate(key) if char in _VOWELS}
