"""Pseudo-translation of the binary formats: Office Open XML, OpenDocument, RTF and PDF.

Office Open XML files keep their package: only the text inside their XML parts changes (the text
runs of docx, the shared and inline strings of xlsx, the text of pptx shapes), edited in place in
the raw XML so that namespace prefixes, `mc:Ignorable` lists and every other part stay byte for
byte what they were. Formats the service converts (.odt/.rtf -> .docx, .ods -> .xlsx) come out as
a small valid file of the output type holding the source's text. PDF comes out as a new PDF whose
pages hold the pseudo-translation of the source pages' text.

A file that is not what its extension says raises UnreadableDocument, as the service fails it.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.sax.saxutils import escape

# Given a paragraph's text pieces, returns them pseudo-translated (the marker on the first piece
# that holds text) and counts the paragraph's characters.
MarkParagraph = Callable[[list[str]], list[str]]


class UnreadableDocument(Exception):
    """The file cannot be read as the format its extension names (corrupt, or another format)."""


@dataclass(frozen=True)
class _OpenXmlKind:
    main_part: str
    # (part name pattern, paragraph element, text element)
    parts: tuple[tuple[re.Pattern[str], str, str], ...]


_OPEN_XML: dict[str, _OpenXmlKind] = {
    ".docx": _OpenXmlKind(
        "word/document.xml",
        ((re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$"), "w:p", "w:t"),),
    ),
    ".xlsx": _OpenXmlKind(
        "xl/workbook.xml",
        (
            (re.compile(r"^xl/sharedStrings\.xml$"), "si", "t"),
            (re.compile(r"^xl/worksheets/[^/]+\.xml$"), "is", "t"),
        ),
    ),
    ".pptx": _OpenXmlKind(
        "ppt/presentation.xml",
        ((re.compile(r"^ppt/(slides|notesSlides)/[^/]+\.xml$"), "a:p", "a:t"),),
    ),
}

OPEN_XML_EXTENSIONS = frozenset(_OPEN_XML)


def translate_open_xml(extension: str, content: bytes, mark: MarkParagraph) -> bytes:
    kind = _OPEN_XML[extension]
    with _open_zip(content) as package:
        names = package.namelist()
        if "[Content_Types].xml" not in names or kind.main_part not in names:
            raise UnreadableDocument(f"the package has no {kind.main_part}")
        output = io.BytesIO()
        with zipfile.ZipFile(output, "w") as translated:
            for info in package.infolist():
                data = package.read(info)
                rule = next((rule for rule in kind.parts if rule[0].match(info.filename)), None)
                if rule is not None:
                    data = _translate_part(data, rule[1], rule[2], mark)
                translated.writestr(info, data)
    return output.getvalue()


def _open_zip(content: bytes) -> zipfile.ZipFile:
    try:
        package = zipfile.ZipFile(io.BytesIO(content))
        broken = package.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UnreadableDocument("the file is not a readable zip package") from exc
    if broken is not None:
        raise UnreadableDocument(f"the package's part {broken} is corrupt")
    return package


def _translate_part(data: bytes, paragraph: str, text: str, mark: MarkParagraph) -> bytes:
    try:
        ElementTree.fromstring(data)
        xml = data.decode("utf-8")
    except (ElementTree.ParseError, UnicodeDecodeError) as exc:
        raise UnreadableDocument("a part of the package is not well-formed XML") from exc
    tokens = re.compile(
        rf"(?P<open><{paragraph}(?:\s[^>]*?)?(?<!/)>)|(?P<close></{paragraph}>)"
        rf"|(?P<start><{text}(?:\s[^>]*?)?(?<!/)>)(?P<body>[^<]*)(?P<end></{text}>)"
    )
    # Each paragraph's text pieces are marked together when the paragraph closes; the pieces are
    # collected as offsets into the part so the rewrite can splice them in one pass.
    pieces: list[tuple[int, int, str]] = []  # (start, end, replacement)
    stack: list[list[tuple[int, int, str]]] = []

    def flush(paragraph_pieces: list[tuple[int, int, str]]) -> None:
        if not paragraph_pieces:
            return
        marked = mark([piece[2] for piece in paragraph_pieces])
        for (start, end, _old), new in zip(paragraph_pieces, marked, strict=True):
            pieces.append((start, end, escape(new)))

    for match in tokens.finditer(xml):
        if match.group("open"):
            stack.append([])
        elif match.group("close"):
            if stack:
                flush(stack.pop())
        else:
            piece = (match.start("body"), match.end("body"), html.unescape(match.group("body")))
            if stack:
                stack[-1].append(piece)
            else:
                flush([piece])
    for leftover in stack:
        flush(leftover)
    output: list[str] = []
    position = 0
    for start, end, replacement in sorted(pieces):
        output.append(xml[position:start])
        output.append(replacement)
        position = end
    output.append(xml[position:])
    return "".join(output).encode("utf-8")


# ---- OpenDocument (.odt/.ods): read with ElementTree, written as the Open XML type -------------

_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
# A spreadsheet row or cell may repeat "to the end of the sheet": empty repeats are not copied.
_MAX_REPEAT = 1000


def _odf_content(content: bytes) -> ElementTree.Element:
    with _open_zip(content) as package:
        if "content.xml" not in package.namelist():
            raise UnreadableDocument("the package has no content.xml")
        try:
            return ElementTree.fromstring(package.read("content.xml"))
        except ElementTree.ParseError as exc:
            raise UnreadableDocument("content.xml is not well-formed XML") from exc


def _odf_paragraph_text(element: ElementTree.Element) -> str:
    parts: list[str] = []
    if element.text:
        parts.append(element.text)
    for child in element:
        if child.tag == f"{{{_ODF_TEXT}}}s":
            parts.append(" " * int(child.get(f"{{{_ODF_TEXT}}}c", "1")))
        elif child.tag == f"{{{_ODF_TEXT}}}tab":
            parts.append("\t")
        elif child.tag == f"{{{_ODF_TEXT}}}line-break":
            parts.append("\n")
        else:
            parts.append(_odf_paragraph_text(child))
        if child.tail:
            parts.append(child.tail)
    return "".join(parts)


def odt_paragraphs(content: bytes) -> list[str]:
    root = _odf_content(content)
    wanted = {f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"}
    return [_odf_paragraph_text(element) for element in root.iter() if element.tag in wanted]


def ods_sheets(content: bytes) -> list[tuple[str, list[list[str]]]]:
    root = _odf_content(content)
    sheets: list[tuple[str, list[list[str]]]] = []
    for table in root.iter(f"{{{_ODF_TABLE}}}table"):
        rows: list[list[str]] = []
        for row in table.iter(f"{{{_ODF_TABLE}}}table-row"):
            cells: list[str] = []
            for cell in row:
                if cell.tag not in (f"{{{_ODF_TABLE}}}table-cell", f"{{{_ODF_TABLE}}}covered-table-cell"):
                    continue
                value = "\n".join(_odf_paragraph_text(p) for p in cell.iter(f"{{{_ODF_TEXT}}}p"))
                repeat = min(int(cell.get(f"{{{_ODF_TABLE}}}number-columns-repeated", "1")), _MAX_REPEAT)
                cells.extend([value] * (repeat if value else min(repeat, 1)))
            while cells and not cells[-1]:
                cells.pop()
            repeat = min(int(row.get(f"{{{_ODF_TABLE}}}number-rows-repeated", "1")), _MAX_REPEAT)
            rows.extend([cells] * (repeat if cells else 1))
        while rows and not rows[-1]:
            rows.pop()
        sheets.append((table.get(f"{{{_ODF_TABLE}}}name", f"Sheet{len(sheets) + 1}"), rows))
    return sheets


# ---- RTF: the text of the body, without control words and destinations -------------------------

_RTF_TOKEN = re.compile(r"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+", re.DOTALL)
# Groups whose content is not document text.
_RTF_SKIPPED = frozenset(
    {"fonttbl", "colortbl", "stylesheet", "info", "pict", "header", "footer", "object", "listtable", "generator"}
)


def rtf_paragraphs(content: bytes) -> list[str]:
    if not content.lstrip().startswith(b"{\\rtf"):
        raise UnreadableDocument("the file does not start with {\\rtf")
    text = content.decode("latin-1")
    output: list[str] = []
    skip_depth: int | None = None
    depth = 0
    group_start = False
    unicode_skip = 0
    for match in _RTF_TOKEN.finditer(text):
        word, number, hex_code, symbol, brace, plain = match.groups()
        if brace == "{":
            depth += 1
            group_start = True
            continue
        if brace == "}":
            if skip_depth is not None and depth == skip_depth:
                skip_depth = None
            depth -= 1
            continue
        starts_group, group_start = group_start, False
        if skip_depth is not None:
            continue
        if symbol == "*" and starts_group:
            skip_depth = depth
        elif word is not None:
            if word in _RTF_SKIPPED and starts_group:
                skip_depth = depth
            elif word in ("par", "line", "sect", "page"):
                output.append("\n")
            elif word == "tab":
                output.append("\t")
            elif word == "u" and number is not None:
                output.append(chr(int(number) % 65536))
                unicode_skip = 1
        elif hex_code is not None:
            if unicode_skip:
                unicode_skip -= 1
            else:
                output.append(bytes([int(hex_code, 16)]).decode("cp1252", errors="replace"))
        elif symbol is not None:
            output.append(symbol if symbol in "\\{}" else "")
        elif plain is not None:
            if unicode_skip:
                plain, unicode_skip = plain[1:], 0
            output.append(plain)
    if depth != 0:
        raise UnreadableDocument("the RTF groups are not balanced")
    return "".join(output).split("\n")


# ---- Writers of small, valid Open XML packages ----------------------------------------------

_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="{target}"/></Relationships>'
)


def _package(parts: dict[str, str]) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in parts.items():
            package.writestr(name, text.encode("utf-8"))
    return output.getvalue()


def write_docx(paragraphs: list[str]) -> bytes:
    body = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{escape(paragraph)}</w:t></w:r></w:p>' for paragraph in paragraphs
    )
    return _package(
        {
            "[Content_Types].xml": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/word/document.xml" ContentType="application/'
                'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
            ),
            "_rels/.rels": _PACKAGE_RELS.format(target="word/document.xml"),
            "word/document.xml": (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body>{body}<w:sectPr/></w:body></w:document>"
            ),
        }
    )


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


def _sheet_names(sheets: list[tuple[str, list[list[str]]]]) -> list[str]:
    # Excel's rules for a sheet name: 1 to 31 characters, none of []:*?/\\, unique.
    names: list[str] = []
    for number, (name, _rows) in enumerate(sheets, start=1):
        cleaned = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or f"Sheet{number}"
        names.append(cleaned if cleaned not in names else f"Sheet{number}")
    return names


def write_xlsx(sheets: list[tuple[str, list[list[str]]]]) -> bytes:
    sheets = sheets or [("Sheet1", [])]
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{number}.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for number in range(1, len(sheets) + 1)
            )
            + "</Types>"
        ),
        "_rels/.rels": _PACKAGE_RELS.format(target="xl/workbook.xml"),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{main}" '
            f'xmlns:r="{relationships}"><sheets>'
            + "".join(
                f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{number}" r:id="rId{number}"/>'
                for number, name in enumerate(_sheet_names(sheets), start=1)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(
                f'<Relationship Id="rId{number}" Type="{relationships}/worksheet" '
                f'Target="worksheets/sheet{number}.xml"/>'
                for number in range(1, len(sheets) + 1)
            )
            + "</Relationships>"
        ),
    }
    for number, (_name, rows) in enumerate(sheets, start=1):
        xml_rows = []
        for row_number, row in enumerate(rows, start=1):
            cells = "".join(
                f'<c r="{_column_name(column)}{row_number}" t="inlineStr">'
                f'<is><t xml:space="preserve">{escape(value)}</t></is></c>'
                for column, value in enumerate(row)
                if value
            )
            xml_rows.append(f'<row r="{row_number}">{cells}</row>')
        parts[f"xl/worksheets/sheet{number}.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{main}">'
            f"<sheetData>{''.join(xml_rows)}</sheetData></worksheet>"
        )
    return _package(parts)


# ---- PDF ----------------------------------------------------------------------------------


def pdf_pages(content: bytes) -> list[str]:
    """The text of each page. pypdf is a dev-only dependency of the local stack (never deployed)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not content.lstrip()[:5] == b"%PDF-":
        raise UnreadableDocument("the file does not start with %PDF-")
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        return [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocument(f"the PDF cannot be read ({type(exc).__name__})") from exc


def write_pdf(pages: list[str]) -> bytes:
    """A PDF with one page per source page. fpdf2 is a dev-only dependency of the local stack; its
    built-in fonts cover Latin-1 only, so other characters are written as "?"."""
    from fpdf import FPDF

    document = FPDF(format="A4")
    document.set_auto_page_break(auto=True, margin=15)
    document.set_font("Helvetica", size=11)
    for text in pages or [""]:
        document.add_page()
        printable = text.encode("latin-1", errors="replace").decode("latin-1")
        document.multi_cell(0, 6, printable)
    return bytes(document.output())
