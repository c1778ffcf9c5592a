"""What a class name (a segment's label) may be: decided once, for every file format and for the
project's class list.

Why: a label travels through every export and back - ActivityNet JSON strings, THUMOS14 file
names (`<Class>_<subset>.txt`) and class-list lines, CSV cells, ELAN XML, W-TALC arrays - and
each of them has characters it cannot hold (a raw BEL made invalid XML, a newline made THUMOS14
file names that do not read back). A label that passes here reads back identically from every
format. Per character class:

  surrounding whitespace        stripped (" Jump" and "Jump" are one class; an import says how
                                many labels it stripped, the class palette shows the stored name)
  any text                      Unicode NFC (the same name typed on macOS, whose file names
                                are decomposed, and elsewhere compares equal)
  control characters, line and  refused, naming the character (U+0007, U+000A, ...): tab,
  paragraph separators          newline and BEL have no place in a one-line name
  surrogates, non-characters    refused (not text)
  "/" and "\\"                  refused (THUMOS14 uses the class as a file name)
  "Ambiguous" (any case)        refused: reserved for THUMOS14 ambiguous intervals
  over 120 bytes of UTF-8       refused with the length (file names hold 255 bytes)
  everything else               kept as typed: inner spaces, punctuation, quotes, commas,
                                letters of any script, emoji

Never reads or writes files.
"""

from __future__ import annotations

import unicodedata

MAX_LABEL_BYTES = 120
RESERVED = "ambiguous"   # lower case; THUMOS14's name for ambiguous intervals


class LabelError(ValueError):
    """Why a label cannot be used (the sentence's second half; the caller names file/entry)."""


def is_ambiguous(label: str) -> bool:
    """The THUMOS14 'Ambiguous' class (any case): ambiguous intervals, not an action."""
    return isinstance(label, str) and label.strip().lower() == RESERVED


def _bad_character(ch: str) -> bool:
    cat = unicodedata.category(ch)
    cp = ord(ch)
    return (cat in ("Cc", "Cs", "Zl", "Zp") or 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE)


def normalise_label(text) -> str:
    """The label as stored and exported, or LabelError saying what is wrong with it."""
    if not isinstance(text, str):
        raise LabelError(f"is {text!r} ({type(text).__name__}), not text")
    label = unicodedata.normalize("NFC", text.strip())
    if not label:
        raise LabelError("is empty")
    for ch in label:
        if _bad_character(ch):
            name = unicodedata.name(ch, "a control character")
            raise LabelError(f"contains U+{ord(ch):04X} ({name.lower()}); a class name is one line "
                             "of printable text")
        if ch in "/\\":
            raise LabelError(f"contains {ch!r}, which cannot be part of a file name (THUMOS14 "
                             "exports name files after classes)")
    if label.lower() == RESERVED:
        raise LabelError("is reserved for THUMOS14 ambiguous intervals; choose another name")
    size = len(label.encode("utf-8"))
    if size > MAX_LABEL_BYTES:
        raise LabelError(f"is too long ({len(label)} characters, {size} bytes in UTF-8); class "
                         f"names have at most {MAX_LABEL_BYTES} bytes (about {MAX_LABEL_BYTES} "
                         f"Latin or 40 CJK characters)")
    return label


def describe(text, limit: int = 60) -> str:
    """repr() of a label for a message, shortened (a 100,000-character label stays readable)."""
    r = repr(text)
    return r if len(r) <= limit else r[:limit - 5] + "...'" + f" ({len(text)} characters)"
