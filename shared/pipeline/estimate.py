"""How many characters a file will be billed, before it is submitted (only when a character budget
is set: budget.py).

Document Translation bills the characters of the source text once per target language. The
estimate is that count times the file's languages, by one of three methods (stored on the records
and in the report as `estimate_method`):

- `text`: text formats (.txt, .md, .html/.htm, .csv, .tsv, .xlf/.xliff, .json, ...) are decoded as
  UTF-8 (invalid bytes replaced) in chunks and their characters counted: exact for plain text, a
  little high for markup (tags count; the service bills the text only).
- `package`: docx/xlsx/pptx are zip files of XML. The blob is downloaded in chunks into a temporary
  file (spooled to disk past 1 MiB, never held whole in memory) and the text of the members that
  hold it (document body, headers, footers, footnotes; shared strings; slides and notes) is summed
  while they are parsed, element by element.
- `size`: anything else (pdf, images, an unreadable package): the blob's bytes divided by
  BYTES_PER_CHARACTER (2: a pdf carries about one character of text per two bytes; rounded up).
"""

from __future__ import annotations

import codecs
import logging
import math
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import ParseError, iterparse

from azure.storage.blob import BlobClient

from shared.pipeline.checks import extension_of

logger = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset(
    {".txt", ".text", ".md", ".markdown", ".html", ".htm", ".csv", ".tsv", ".tab", ".xlf", ".xliff", ".json", ".xml"}
)
PACKAGE_EXTENSIONS = frozenset({".docx", ".xlsx", ".pptx"})
# The members of an Office package whose text is translated.
_PACKAGE_TEXT_MEMBERS = re.compile(
    r"^(word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
    r"|xl/sharedStrings\.xml"
    r"|ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml)$"
)
BYTES_PER_CHARACTER = 2
# A package is spooled in memory up to this, then on disk.
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
CHUNK_BYTES = 4 * 1024 * 1024


class Method:
    TEXT = "text"
    PACKAGE = "package"
    SIZE = "size"


@dataclass(frozen=True)
class Estimate:
    characters: int  # source characters x target languages
    method: str  # text | package | size


def estimate_blob(blob: BlobClient, size: int, languages: int) -> Estimate:
    """The characters a version of `blob` (`size` bytes) will be billed for `languages` targets."""
    extension = extension_of(blob.blob_name)
    try:
        if extension in TEXT_EXTENSIONS:
            return Estimate(text_characters(_chunks(blob)) * languages, Method.TEXT)
        if extension in PACKAGE_EXTENSIONS:
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spooled:
                for chunk in _chunks(blob):
                    spooled.write(chunk)
                spooled.seek(0)
                return Estimate(package_characters(spooled) * languages, Method.PACKAGE)
    except (zipfile.BadZipFile, ParseError, KeyError, OSError) as exc:
        # Not the package its name says (or not readable as one): the service may still take it.
        logger.info("%s could not be read as %s (%s); estimating from its size", blob.blob_name, extension, exc)
    return Estimate(size_characters(size) * languages, Method.SIZE)


def _chunks(blob: BlobClient) -> Iterator[bytes]:
    yield from blob.download_blob(max_concurrency=1).chunks()


def text_characters(chunks: Iterable[bytes]) -> int:
    """Characters of UTF-8 text arriving in chunks (a character split between chunks counts once)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    count = 0
    for chunk in chunks:
        count += len(decoder.decode(chunk))
    return count + len(decoder.decode(b"", final=True))


def package_characters(file: IO[bytes]) -> int:
    """Characters of text in the translated parts of a docx/xlsx/pptx."""
    count = 0
    with zipfile.ZipFile(file) as package:
        for name in package.namelist():
            if not _PACKAGE_TEXT_MEMBERS.match(name):
                continue
            with package.open(name) as member:
                for _event, element in iterparse(member, events=("end",)):
                    count += len(element.text or "")
                    element.clear()  # the parsed tree never grows past the current element
    return count


def size_characters(size: int) -> int:
    return math.ceil(size / BYTES_PER_CHARACTER)
