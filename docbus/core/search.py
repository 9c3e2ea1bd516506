"""document.search (contract v2): what a search asks and how a document matches it.

- Words: a text's words are what is left after removing accents (PostgreSQL's
  ``unaccent`` rules, core.unaccent), lower-casing, and splitting at every ASCII
  character that is not a letter or a digit. The database computes the same
  (``docbus_words``, migration 0008); this is the rule in Python, for the in-memory index
  and the model tests.
- ``text`` matches a document when each of its words is a word of the document's name or
  tags; the last one may also be the start of such a word (search as you type). A text
  without a word filters nothing.
- ``folder_id``: the document is in that folder or below it. ``mime_type``: its media
  type (before any ``;`` parameter, ASCII letters lower-cased) equals the filter, or, for
  a ``type/*`` filter, starts with ``type/``. ``tags``: it has every one of them (exactly).
- Rank (best match first): how many distinct words of the text are whole words of the
  name; ties (and every search without text: rank 0) newest ``updated_at`` first, then
  ``doc_id`` descending. The keyset position is (rank, updated_at, doc_id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from docbus.core.entities import Document
from docbus.core.unaccent import UNACCENT

_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def words(text: str) -> tuple[str, ...]:
    """The words of ``text``, in order (repeats kept)."""
    folded = text.translate(UNACCENT).lower()
    return tuple(w for w in _SEPARATORS.split(folded) if w)


def media_type(mime_type: str) -> str:
    """``type/subtype`` of a stored mime type: parameters dropped, ASCII lower-cased."""
    return mime_type.split(";", 1)[0].strip().translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True, order=True)
class SearchPosition:
    """Where a page ended (results run from the highest position down)."""

    rank: int
    updated_at: datetime
    doc_id: str


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """The filters of one search; all given ones must hold."""

    text: str | None = None
    folder_id: str | None = None
    mime_type: str | None = None
    """``type/subtype`` or ``type/*`` (ASCII, lower-cased by the handler)."""
    tags: tuple[str, ...] = ()

    @property
    def mime_prefix(self) -> str | None:
        """``type/`` for a ``type/*`` filter."""
        if self.mime_type is not None and self.mime_type.endswith("/*"):
            return self.mime_type[:-1]
        return None


@dataclass(frozen=True, slots=True)
class SearchHit:
    document: Document
    rank: int

    @property
    def position(self) -> SearchPosition:
        return SearchPosition(self.rank, self.document.updated_at, self.document.doc_id)


def text_matches(query: Sequence[str], document_words: Sequence[str]) -> bool:
    """Every query word is a document word; the last may be a prefix of one."""
    if not query:
        return True
    known = set(document_words)
    *whole, last = query
    return all(w in known for w in whole) and any(d.startswith(last) for d in known)


def rank(query: Sequence[str], name: str) -> int:
    """How many distinct query words are whole words of the name."""
    return len(set(query) & set(words(name)))


def matches(search: SearchFilter, document: Document, ancestors: Sequence[str]) -> bool:
    """Whether the document (in a folder below ``ancestors``) passes every filter."""
    content = document.content
    if search.text is not None:
        text_words = words(content.name) + words(" ".join(content.tags))
        if not text_matches(words(search.text), text_words):
            return False
    if search.folder_id is not None and search.folder_id not in (
        *ancestors, document.folder_id
    ):
        return False
    if search.mime_type is not None:
        media, prefix = media_type(content.mime_type), search.mime_prefix
        if not (media.startswith(prefix) if prefix else media == search.mime_type):
            return False
    return set(search.tags) <= set(content.tags)


def hit(search: SearchFilter, document: Document) -> SearchHit:
    """The document as a result of the search, ranked."""
    query = words(search.text) if search.text is not None else ()
    return SearchHit(document, rank(query, document.content.name))
