"""The emulator's "translation": a deterministic, visibly marked pseudo-translation.

Each piece of translatable text becomes `[<lang>] <text>` (after glossary terms are replaced),
and the structure of the format is kept: markdown syntax, HTML/XML tags and attributes,
CSV/TSV cells, XLIFF units; the binary formats are handled in documents.py (docx/xlsx/pptx inside
their XML, PDF page by page, .odt/.rtf/.ods converted as the service converts them). Formats whose
text the emulator cannot read (.doc, .xls, .ppt, .odp, .msg) fail as an unreadable document.
What is charged is the text translated, never the file's size.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from xml.etree import ElementTree

from devstack.emulator import documents
from devstack.emulator.documents import UnreadableDocument
from devstack.emulator.formats import extension_of

__all__ = ["UnreadableDocument"]


class NoTranslatableText(Exception):
    """The document holds no text to translate."""


@dataclass(frozen=True)
class PseudoTranslation:
    content: bytes
    # Characters of source text translated, what the service charges for.
    characters: int


@dataclass(frozen=True)
class Glossary:
    """Source term -> target term, applied before marking."""

    terms: Mapping[str, str]

    def apply(self, text: str) -> str:
        if not self.terms:
            return text
        # Longest terms first so "New York" wins over "New".
        ordered = sorted(self.terms, key=len, reverse=True)
        pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(term) for term in ordered) + r")(?!\w)")
        return pattern.sub(lambda match: self.terms[match.group(1)], text)


EMPTY_GLOSSARY = Glossary({})


class InvalidGlossaryContent(ValueError):
    """The glossary cannot be used: the message says why, for the document's error."""


def parse_glossary(content: bytes, format_name: str) -> Glossary:
    """Terms of a CSV/TSV (exactly two columns: source term, target term) or XLIFF (units with a
    source and a target) glossary. Raises InvalidGlossaryContent for one the service would refuse."""
    if not content.strip():
        raise InvalidGlossaryContent("the glossary is empty")
    text = _decode_glossary(content)
    terms: dict[str, str] = {}
    if format_name in ("CSV", "TSV"):
        delimiter = "," if format_name == "CSV" else "\t"
        for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise InvalidGlossaryContent(
                    f"row {number} has {len(row)} columns; each row holds a source term and a target term"
                )
            terms[row[0].strip()] = row[1].strip()
    else:
        try:
            ElementTree.fromstring(text.encode("utf-8"))
        except ElementTree.ParseError as exc:
            raise InvalidGlossaryContent(f"the XLIFF is not well-formed XML ({exc})") from exc
        for unit in _XLIFF_UNIT.finditer(text):
            source = _XLIFF_SOURCE.search(unit.group(0))
            target = _XLIFF_TARGET.search(unit.group(0))
            if source and target and source.group(2) and source.group(2).strip():
                terms[_strip_tags(source.group(2)).strip()] = _strip_tags(target.group(2) or "").strip()
    if not terms:
        raise InvalidGlossaryContent("the glossary holds no terms")
    return Glossary(terms)


def _decode_glossary(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidGlossaryContent("the glossary is not UTF-8 (or UTF-16 with a byte order mark) text") from exc
    if "\x00" in text:
        raise InvalidGlossaryContent("the glossary holds binary data")
    return text


def pseudo_translate(blob_name: str, content: bytes, language: str, glossary: Glossary) -> PseudoTranslation:
    """The translation, in the format the service writes for `blob_name` (see formats.output_name).
    Raises NoTranslatableText for a document without text, UnreadableDocument for a file that is not
    what its extension says (or whose text the emulator cannot read)."""
    if not content:
        raise NoTranslatableText(blob_name)
    extension = extension_of(blob_name)
    counter = _CharacterCounter(language, glossary)
    text_translator = _TEXT_TRANSLATORS.get(extension)
    if text_translator is not None:
        translated = text_translator(decode_text(content), counter).encode("utf-8")
    else:
        binary_translator = _BINARY_TRANSLATORS.get(extension)
        if binary_translator is None:
            raise UnreadableDocument(f"the emulator cannot read the text of a {extension} file")
        translated = binary_translator(extension, content, counter)
    if counter.characters == 0:
        raise NoTranslatableText(blob_name)
    return PseudoTranslation(translated, counter.characters)


class _CharacterCounter:
    """Marks text segments and counts the characters it was given."""

    def __init__(self, language: str, glossary: Glossary):
        self.marker = f"[{language}] "
        self.glossary = glossary
        self.characters = 0

    def __call__(self, segment: str) -> str:
        stripped = segment.strip()
        if not stripped:
            return segment
        self.characters += len(stripped)
        leading = segment[: len(segment) - len(segment.lstrip())]
        trailing = segment[len(segment.rstrip()) :]
        return leading + self.marker + self.glossary.apply(stripped) + trailing

    def paragraph(self, pieces: list[str]) -> list[str]:
        """One paragraph split into runs: the marker once, before its first text; each run keeps
        its own formatting, so glossary terms are replaced within a run."""
        self.characters += len("".join(pieces).strip())
        marked: list[str] = []
        done = False
        for piece in pieces:
            if done or not piece.strip():
                marked.append(self.glossary.apply(piece) if piece.strip() else piece)
                continue
            leading = piece[: len(piece) - len(piece.lstrip())]
            marked.append(leading + self.marker + self.glossary.apply(piece[len(leading) :]))
            done = True
        return marked


def decode_text(content: bytes) -> str:
    """Text as the service reads it: by its byte order mark (UTF-8, UTF-16, UTF-32), else UTF-8,
    else UTF-16 recognised by its zero bytes, else Windows-1252. Raises UnreadableDocument for
    binary data."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                return content[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise UnreadableDocument(f"the text is not valid {encoding}") from exc
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = _utf16_without_bom(content) or content.decode("cp1252", errors="replace")
    else:
        text = _utf16_without_bom(content) or text
    if "\x00" in text:
        raise UnreadableDocument("the text holds binary data")
    return text


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _utf16_without_bom(content: bytes) -> str | None:
    """UTF-16 text without a BOM: mostly ASCII, so every other byte is zero."""
    if len(content) < 2 or len(content) % 2:
        return None
    for encoding, zeros in (("utf-16-le", content[1::2]), ("utf-16-be", content[0::2])):
        if zeros.count(0) >= 0.9 * len(zeros):
            try:
                return content.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _translate_plain_text(text: str, mark: Callable[[str], str]) -> str:
    return "".join(mark(line) for line in text.splitlines(keepends=True))


# Markdown line prefixes that are syntax, not text: headings, quotes, list bullets, numbers, tables.
_MARKDOWN_PREFIX = re.compile(
    r"^(\s*(?:>\s*)*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+)?)(.*?)(\s*)$", re.DOTALL
)
_MARKDOWN_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_MARKDOWN_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _translate_markdown(text: str, mark: Callable[[str], str]) -> str:
    output: list[str] = []
    in_code_block = False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            in_code_block = not in_code_block
            output.append(line)
            continue
        if in_code_block or _MARKDOWN_RULE.match(line) or _MARKDOWN_TABLE_SEPARATOR.match(line):
            output.append(line)
            continue
        if line.lstrip().startswith("|"):
            cells = line.rstrip("\r\n").split("|")
            ending = line[len(line.rstrip("\r\n")) :]
            output.append("|".join(mark(cell) for cell in cells) + ending)
            continue
        match = _MARKDOWN_PREFIX.match(line)
        assert match is not None  # the pattern matches any line
        prefix, body, ending = match.groups()
        output.append(prefix + (mark(body) if body else "") + ending)
    return "".join(output)


# Markup that is never text: comments, CDATA, processing instructions, declarations, tags.
_MARKUP = re.compile(r"(<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<![^>]*>|<[^>]+>)", re.DOTALL)
_RAW_TEXT_ELEMENTS = re.compile(r"^<(script|style)\b", re.IGNORECASE)


def _translate_markup(text: str, mark: Callable[[str], str]) -> str:
    output: list[str] = []
    inside_raw_text = False
    for piece in _MARKUP.split(text):
        if _MARKUP.fullmatch(piece or " "):
            if _RAW_TEXT_ELEMENTS.match(piece):
                inside_raw_text = True
            elif re.match(r"^</(script|style)\s*>", piece, re.IGNORECASE):
                inside_raw_text = False
            output.append(piece)
        elif inside_raw_text:
            output.append(piece)
        else:
            output.append(mark(piece))
    return "".join(output)


def _delimited(delimiter: str) -> Callable[[str, Callable[[str], str]], str]:
    def translate(text: str, mark: Callable[[str], str]) -> str:
        line_ending = "\r\n" if "\r\n" in text else "\n"
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending)
        for row in rows:
            writer.writerow([mark(cell) for cell in row])
        result = buffer.getvalue()
        return result if text.endswith(("\n", "\r")) else result.rstrip("\r\n")

    return translate


_XLIFF_UNIT = re.compile(r"<(trans-unit|segment)\b[^>]*>.*?</\1\s*>", re.DOTALL)
_XLIFF_SOURCE = re.compile(r"<source(\s[^>]*)?>(.*?)</source\s*>", re.DOTALL)
_XLIFF_TARGET = re.compile(r"<target(\s[^>]*)?>(.*?)</target\s*>|<target(\s[^>]*)?/>", re.DOTALL)


def _strip_tags(text: str) -> str:
    return _MARKUP.sub("", text)


def _translate_xliff(text: str, mark: Callable[[str], str]) -> str:
    def translate_unit(unit: re.Match[str]) -> str:
        body = unit.group(0)
        source = _XLIFF_SOURCE.search(body)
        if source is None:
            return body
        target_element = f"<target>{_translate_markup(source.group(2), mark)}</target>"
        if _XLIFF_TARGET.search(body):
            return _XLIFF_TARGET.sub(lambda _match: target_element, body, count=1)
        return body[: source.end()] + target_element + body[source.end() :]

    return _XLIFF_UNIT.sub(translate_unit, text)


_TEXT_TRANSLATORS: dict[str, Callable[[str, Callable[[str], str]], str]] = {
    ".txt": _translate_plain_text,
    ".md": _translate_markdown,
    ".markdown": _translate_markdown,
    ".html": _translate_markup,
    ".htm": _translate_markup,
    ".xml": _translate_markup,
    ".csv": _delimited(","),
    ".tsv": _delimited("\t"),
    ".tab": _delimited("\t"),
    ".xlf": _translate_xliff,
    ".xliff": _translate_xliff,
}


def _open_xml(extension: str, content: bytes, counter: _CharacterCounter) -> bytes:
    return documents.translate_open_xml(extension, content, counter.paragraph)


def _paragraphs_to_docx(paragraphs: list[str], counter: _CharacterCounter) -> bytes:
    return documents.write_docx([counter(paragraph) for paragraph in paragraphs])


def _odt(_extension: str, content: bytes, counter: _CharacterCounter) -> bytes:
    return _paragraphs_to_docx(documents.odt_paragraphs(content), counter)


def _rtf(_extension: str, content: bytes, counter: _CharacterCounter) -> bytes:
    return _paragraphs_to_docx(documents.rtf_paragraphs(content), counter)


def _ods(_extension: str, content: bytes, counter: _CharacterCounter) -> bytes:
    sheets = documents.ods_sheets(content)
    return documents.write_xlsx([(name, [[counter(cell) for cell in row] for row in rows]) for name, rows in sheets])


def _pdf(_extension: str, content: bytes, counter: _CharacterCounter) -> bytes:
    pages = documents.pdf_pages(content)
    return documents.write_pdf([_translate_plain_text(page, counter) for page in pages])


def _mhtml(_extension: str, content: bytes, counter: _CharacterCounter) -> bytes:
    """A web archive: its HTML and text parts translated, its other parts (images, CSS) as they were."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    if not message.is_multipart() and message.get_content_maintype() != "text":
        raise UnreadableDocument("the web archive holds no MIME text parts")
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        subtype = part.get_content_subtype()
        text = part.get_content()
        translated = _translate_markup(text, counter) if subtype == "html" else _translate_plain_text(text, counter)
        # set_content drops every Content-* header: Content-Location and Content-ID link the parts.
        kept = [(name, value) for name, value in part.items() if name.lower() in ("content-location", "content-id")]
        part.set_content(translated, subtype=subtype, charset="utf-8", cte="quoted-printable")
        for name, value in kept:
            part[name] = value
    return message.as_bytes()


# Each takes the extension, the file's bytes and the counter; returns the file the service writes.
_BINARY_TRANSLATORS: dict[str, Callable[[str, bytes, _CharacterCounter], bytes]] = {
    **{extension: _open_xml for extension in documents.OPEN_XML_EXTENSIONS},
    ".odt": _odt,
    ".rtf": _rtf,
    ".ods": _ods,
    ".pdf": _pdf,
    ".mhtml": _mhtml,
    ".mht": _mhtml,
}
