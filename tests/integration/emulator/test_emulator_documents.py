"""Real documents on the local stack: the emulator translates Office, OpenDocument, RTF and PDF files
into files that open, charges the text they hold, and fails a file that is not what its name says."""

from __future__ import annotations

import io
import os
import time
import zipfile

import docx
import openpyxl
import pptx
import pytest
from emulator_testkit import Api, Containers, folder_input
from fpdf import FPDF
from pypdf import PdfReader

from devstack.emulator import EmulatorOptions, EmulatorServer

pytestmark = pytest.mark.integration


def make_docx() -> bytes:
    document = docx.Document()
    paragraph = document.add_paragraph("Hello ")
    paragraph.add_run("bold world").bold = True  # one sentence in two runs
    document.add_paragraph("Fish & chips <cheap>")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"], sheet["B1"], sheet["A2"] = "Price list", 42, "Blue chair"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_pptx() -> bytes:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Quarterly results"
    slide.placeholders[1].text = "Sales went up"
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def make_pdf(pages: list[str]) -> bytes:
    document = FPDF()
    document.set_font("Helvetica", size=12)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 8, text)
    return bytes(document.output())


def make_odt(paragraphs: list[str]) -> bytes:
    body = "".join(f"<text:p>{paragraph}</text:p>" for paragraph in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        package.writestr(
            "content.xml",
            '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
            f"<office:body><office:text>{body}</office:text></office:body></office:document-content>",
        )
    return buffer.getvalue()


def translate_folder(api: Api, containers: Containers, files: dict[str, bytes | str]) -> dict[str, dict]:
    """Each source's document status, by source name, after one Folder job into `fr/`."""
    containers.upload(files)
    job_id = api.start(
        [
            folder_input(
                containers.container_url(containers.source, "rl"), containers.folder_url(containers.target, "fr", "wl")
            )
        ]
    )
    api.wait(job_id)
    return {document["sourcePath"].rsplit("/", 1)[1]: document for document in api.documents(job_id)}


def target_bytes(containers: Containers, name: str) -> io.BytesIO:
    return io.BytesIO(containers.target.download_blob(name).readall())


def test_office_files_are_translated_inside_their_xml_and_charged_their_text(api: Api, containers: Containers):
    documents = translate_folder(
        api, containers, {"letter.docx": make_docx(), "prices.xlsx": make_xlsx(), "deck.pptx": make_pptx()}
    )
    assert {name: document["status"] for name, document in documents.items()} == dict.fromkeys(
        ("letter.docx", "prices.xlsx", "deck.pptx"), "Succeeded"
    )

    word = docx.Document(target_bytes(containers, "fr/letter.docx"))
    assert [paragraph.text for paragraph in word.paragraphs] == ["[fr] Hello bold world", "[fr] Fish & chips <cheap>"]
    assert word.paragraphs[0].runs[1].bold  # the runs and their formatting are kept
    assert documents["letter.docx"]["characterCharged"] == len("Hello bold world") + len("Fish & chips <cheap>")

    sheet = openpyxl.load_workbook(target_bytes(containers, "fr/prices.xlsx")).active
    assert sheet is not None
    assert (sheet["A1"].value, sheet["B1"].value, sheet["A2"].value) == ("[fr] Price list", 42, "[fr] Blue chair")
    assert documents["prices.xlsx"]["characterCharged"] == len("Price list") + len("Blue chair")

    slide = pptx.Presentation(target_bytes(containers, "fr/deck.pptx")).slides[0]
    texts = [shape.text_frame.text for shape in slide.shapes if shape.has_text_frame]
    assert texts == ["[fr] Quarterly results", "[fr] Sales went up"]
    assert documents["deck.pptx"]["characterCharged"] == len("Quarterly results") + len("Sales went up")


def test_a_pdf_comes_back_as_a_pdf_of_its_pseudo_translated_pages(api: Api, containers: Containers):
    documents = translate_folder(api, containers, {"brochure.pdf": make_pdf(["Page one text", "Second page"])})

    assert documents["brochure.pdf"]["status"] == "Succeeded"
    pages = PdfReader(target_bytes(containers, "fr/brochure.pdf")).pages
    assert [page.extract_text().strip() for page in pages] == ["[fr] Page one text", "[fr] Second page"]
    assert documents["brochure.pdf"]["characterCharged"] == len("Page one text") + len("Second page")


def test_converted_formats_are_written_as_docx_under_the_services_name(api: Api, containers: Containers):
    rtf = rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 Caf\'e9 \b ouvert\b0\par Second line}"
    odt = make_odt(["Meeting notes", "Bring coffee"])
    documents = translate_folder(api, containers, {"memo.odt": odt, "a.rtf": rtf})

    assert documents["memo.odt"]["status"] == "Succeeded"
    assert documents["memo.odt"]["path"].endswith("/fr/memo.docx")
    memo = docx.Document(target_bytes(containers, "fr/memo.docx"))
    assert [paragraph.text for paragraph in memo.paragraphs] == ["[fr] Meeting notes", "[fr] Bring coffee"]
    assert documents["memo.odt"]["characterCharged"] == len("Meeting notes") + len("Bring coffee")
    converted = docx.Document(target_bytes(containers, "fr/a.docx"))
    assert [paragraph.text for paragraph in converted.paragraphs] == ["[fr] Café ouvert", "[fr] Second line"]
    assert not [blob.name for blob in containers.target.list_blobs() if blob.name.endswith((".odt", ".rtf"))]


def test_utf16_text_with_a_bom_is_decoded(api: Api, containers: Containers):
    documents = translate_folder(api, containers, {"hello.txt": "Héllo wörld\n".encode("utf-16")})

    assert documents["hello.txt"]["status"] == "Succeeded"
    assert containers.read_target("fr/hello.txt") == "[fr] Héllo wörld\n"
    assert documents["hello.txt"]["characterCharged"] == len("Héllo wörld")


@pytest.mark.parametrize("name", ["random.pdf", "random.docx", "random.xlsx", "legacy.doc"])
def test_a_file_that_is_not_what_its_extension_says_fails_with_the_services_code(
    api: Api, containers: Containers, name: str
):
    documents = translate_folder(api, containers, {name: os.urandom(4096)})

    document = documents[name]
    assert document["status"] == "Failed"
    assert document["error"]["innerError"]["code"] == "WrongDocumentEncoding"
    assert document["characterCharged"] == 0
    assert list(containers.target.list_blobs()) == []


def test_a_cancelled_job_restored_after_a_restart_stays_cancelled_document_by_document(containers, tmp_path):
    options = EmulatorOptions(key="k", state_dir=tmp_path / "state", document_seconds=30.0, workers=1)
    containers.upload({"slow.txt": "Takes a while"})
    first = EmulatorServer.start(options)
    api = Api(first.endpoint, "k")
    job_id = api.start(
        [
            folder_input(
                containers.container_url(containers.source, "rl"), containers.folder_url(containers.target, "fr", "wl")
            )
        ]
    )
    while not [document for document in api.documents(job_id) if document["status"] == "Running"]:
        time.sleep(0.05)
    assert api.cancel(job_id).status_code == 200
    first.stop()  # the document was under way

    second = EmulatorServer.start(options)
    try:
        api = Api(second.endpoint, "k")
        job = api.wait(job_id)
        assert job["status"] == "Cancelled"
        assert [document["status"] for document in api.documents(job_id)] == ["Cancelled"]
        assert job["summary"]["inProgress"] == 0 and job["summary"]["cancelled"] == 1
    finally:
        second.stop()
