"""The formats the service accepts (SERVICE_NOTES.md, "Formats"), in the formats operation's JSON shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class FileFormat:
    name: str
    extensions: tuple[str, ...]
    content_types: tuple[str, ...]
    versions: tuple[str, ...] = ()
    default_version: str | None = None
    # Output extension when the service converts (.doc -> .docx); None: unchanged.
    output_extension: str | None = None

    def as_json(self, kind: str, with_type: bool) -> dict[str, object]:
        body: dict[str, object] = {
            "format": self.name,
            "fileExtensions": list(self.extensions),
            "contentTypes": list(self.content_types),
            "versions": list(self.versions),
        }
        if self.default_version is not None:
            body["defaultVersion"] = self.default_version
        if with_type:
            body["type"] = kind
        return body


_WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_EXCEL = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_POWERPOINT = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

DOCUMENT_FORMATS: tuple[FileFormat, ...] = (
    FileFormat("PlainText", (".txt",), ("text/plain",)),
    FileFormat("PDF", (".pdf",), ("application/pdf",)),
    FileFormat("HTML", (".html", ".htm"), ("text/html",)),
    FileFormat("Markdown", (".md", ".markdown"), ("text/markdown", "text/x-markdown", "text/plain")),
    FileFormat("MHTML", (".mhtml", ".mht"), ("message/rfc822", "application/x-mimearchive", "multipart/related")),
    FileFormat("CSV", (".csv",), ("text/csv",)),
    FileFormat("TSV", (".tsv", ".tab"), ("text/tab-separated-values",)),
    FileFormat("XLIFF", (".xlf", ".xliff"), ("application/xliff+xml",), ("1.0", "1.1", "1.2", "2.0"), "1.2"),
    FileFormat("XML", (".xml",), ("application/xml", "text/xml")),
    FileFormat("OpenXmlWord", (".docx",), (_WORD,)),
    FileFormat("OpenXmlSpreadsheet", (".xlsx",), (_EXCEL,)),
    FileFormat("OpenXmlPresentation", (".pptx",), (_POWERPOINT,)),
    FileFormat("Word97", (".doc",), ("application/msword",), output_extension=".docx"),
    FileFormat("Excel97", (".xls",), ("application/vnd.ms-excel",), output_extension=".xlsx"),
    FileFormat("PowerPoint97", (".ppt",), ("application/vnd.ms-powerpoint",), output_extension=".pptx"),
    FileFormat("OutlookMailMessage", (".msg",), ("application/vnd.ms-outlook",)),
    FileFormat("RichTextFormat", (".rtf",), ("application/rtf",), output_extension=".docx"),
    FileFormat("OpenDocumentText", (".odt",), ("application/vnd.oasis.opendocument.text",), output_extension=".docx"),
    FileFormat(
        "OpenDocumentSpreadsheet",
        (".ods",),
        ("application/vnd.oasis.opendocument.spreadsheet",),
        output_extension=".xlsx",
    ),
    FileFormat(
        "OpenDocumentPresentation",
        (".odp",),
        ("application/vnd.oasis.opendocument.presentation",),
        output_extension=".pptx",
    ),
)

GLOSSARY_FORMATS: tuple[FileFormat, ...] = (
    FileFormat("XLIFF", (".xlf", ".xliff"), ("application/xliff+xml",), ("1.0", "1.1", "1.2", "2.0"), "1.2"),
    FileFormat("TSV", (".tsv", ".tab"), ("text/tab-separated-values",)),
    FileFormat("CSV", (".csv",), ("text/csv",)),
)


def _by_extension(formats: tuple[FileFormat, ...]) -> dict[str, FileFormat]:
    return {extension: fmt for fmt in formats for extension in fmt.extensions}


_DOCUMENTS_BY_EXTENSION = _by_extension(DOCUMENT_FORMATS)
_GLOSSARIES_BY_EXTENSION = _by_extension(GLOSSARY_FORMATS)


def extension_of(blob_name: str) -> str:
    return PurePosixPath(blob_name).suffix.lower()


def document_format(blob_name: str) -> FileFormat | None:
    """The format the service would translate `blob_name` as; None: unsupported (skipped in a folder)."""
    return _DOCUMENTS_BY_EXTENSION.get(extension_of(blob_name))


def glossary_format(requested: str) -> FileFormat | None:
    """The glossary format a request's `format` field names ("xliff", "TSV", "csv"...)."""
    wanted = requested.strip().lower()
    for fmt in GLOSSARY_FORMATS:
        if wanted == fmt.name.lower() or "." + wanted.lstrip(".") in fmt.extensions:
            return fmt
    return None


def output_name(blob_name: str) -> str:
    """The target blob name the service writes for `blob_name` (.doc becomes .docx...)."""
    fmt = document_format(blob_name)
    if fmt is None or fmt.output_extension is None:
        return blob_name
    return str(PurePosixPath(blob_name).with_suffix(fmt.output_extension))


def content_type_for(blob_name: str) -> str:
    fmt = document_format(blob_name)
    return fmt.content_types[0] if fmt is not None else "application/octet-stream"


def formats_json(kind: str, with_type: bool) -> dict[str, object]:
    """The formats operation's answer; `kind` is "document" or "glossary"."""
    formats = DOCUMENT_FORMATS if kind == "document" else GLOSSARY_FORMATS
    type_name = "Document" if kind == "document" else "Glossary"
    return {"value": [fmt.as_json(type_name, with_type) for fmt in formats]}
