"""Character estimates before submission: text counted exactly, Office packages from their text,
anything else from its size."""

from __future__ import annotations

import io
import zipfile

from shared.pipeline.estimate import package_characters, size_characters, text_characters


def package(members: dict[str, str]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    buffer.seek(0)
    return buffer


def test_text_is_counted_in_characters_even_when_a_character_is_split_between_chunks():
    data = "héllo wörld ✓".encode()
    chunks = [data[i : i + 2] for i in range(0, len(data), 2)]
    assert text_characters(chunks) == len("héllo wörld ✓")


def test_a_docx_counts_the_text_of_its_body_and_headers_not_its_styles():
    docx = package(
        {
            "word/document.xml": '<w:document xmlns:w="w"><w:body><w:p><w:t>Hello</w:t><w:t> world</w:t></w:p>'
            "</w:body></w:document>",
            "word/header1.xml": '<w:hdr xmlns:w="w"><w:t>Top</w:t></w:hdr>',
            "word/styles.xml": '<w:styles xmlns:w="w"><w:name>not translated</w:name></w:styles>',
        }
    )
    assert package_characters(docx) == len("Hello world") + len("Top")


def test_an_xlsx_counts_its_shared_strings_and_a_pptx_its_slides():
    xlsx = package({"xl/sharedStrings.xml": "<sst><si><t>Total</t></si><si><t>Net</t></si></sst>"})
    pptx = package(
        {
            "ppt/slides/slide1.xml": "<p:sld xmlns:p='p' xmlns:a='a'><a:t>Title</a:t></p:sld>",
            "ppt/slides/slide2.xml": "<p:sld xmlns:p='p' xmlns:a='a'><a:t>Body</a:t></p:sld>",
            "ppt/slideLayouts/slideLayout1.xml": "<p:sldLayout xmlns:p='p'><a:t xmlns:a='a'>x</a:t></p:sldLayout>",
        }
    )
    assert package_characters(xlsx) == len("Total") + len("Net")
    assert package_characters(pptx) == len("Title") + len("Body")


def test_other_formats_are_estimated_from_their_size():
    assert size_characters(10) == 5
    assert size_characters(11) == 6
