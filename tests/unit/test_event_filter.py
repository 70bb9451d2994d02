"""The local stand-in for Event Grid's subject filter (devstack/host/event_filter.py)."""

from __future__ import annotations

import pytest

from devstack.host.event_filter import blob_subject, passes_subject_filter, subject_begins_with


@pytest.mark.parametrize(
    ("blob_path", "expected"),
    [
        ("source/{name}", "/blobServices/default/containers/source/blobs/"),
        ("source", "/blobServices/default/containers/source/blobs/"),
        ("/target/.inflight/{name}", "/blobServices/default/containers/target/blobs/.inflight/"),
        ("target/.inflight/{key}-{attempt}/{lang}", "/blobServices/default/containers/target/blobs/.inflight/"),
        ("target/out-{name}.txt", "/blobServices/default/containers/target/blobs/out-"),
    ],
)
def test_a_trigger_path_gives_the_prefix_up_to_its_first_parameter(blob_path, expected):
    assert subject_begins_with(blob_path) == expected


def test_the_prefix_matches_only_its_own_container_and_folder_case_sensitively():
    staging = subject_begins_with("target/.inflight/{name}")
    assert passes_subject_filter(blob_subject("target", ".inflight/k-1/fr.docx"), staging)
    assert not passes_subject_filter(blob_subject("target", ".Inflight/k-1/fr.docx"), staging)
    assert not passes_subject_filter(blob_subject("target", "report.fr.docx"), staging)
    assert not passes_subject_filter(blob_subject("target-old", ".inflight/k-1/fr.docx"), staging)
    drops = subject_begins_with("source/{name}")
    assert passes_subject_filter(blob_subject("source", "a.docx"), drops)
    assert not passes_subject_filter(blob_subject("source-archive", "a.docx"), drops)
