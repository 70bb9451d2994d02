"""The benchmark's report: its JSON keeps the counts it measured, and its reading of py-spy's stacks."""

import json
from dataclasses import asdict

from bench.__main__ import _plain
from bench.measures import EndToEnd, _profile_summary, chart


def test_samples_are_shared_out_by_step_library_and_function(tmp_path):
    profile = tmp_path / "host-profile.txt"
    profile.write_text(
        "\n".join(
            [
                "Thread.run (threading.py:982);record_outcome (shared/pipeline/record.py:80);"
                "write_report (shared/pipeline/publish.py:124);BlobClient.upload_blob (blob/_blob_client.py:618) 6",
                "Thread.run (threading.py:982);submit_dropped_blob (shared/pipeline/submit.py:40);"
                "claim (shared/pipeline/lifecycle.py:50);TableClient.create_entity (tables/_table_client.py:300) 3",
                "Thread.run (threading.py:982);QueueListener.run (devstack/host/queues.py:63) 1",
                "not a sample line",
            ]
        )
    )

    by_step, by_library, *functions = _profile_summary(profile)

    assert by_step == (
        "by step (inclusive): pipeline: record 60%, pipeline: submit 30%, local host (the Functions host's part) 10%"
    )
    assert by_library == "by library (own time): azure-storage-blob 60%, azure-data-tables 30%, ours (devstack) 10%"
    assert functions[0] == "60.0%  BlobClient.upload_blob (blob/_blob_client.py:618)"


def test_a_missing_profile_says_so(tmp_path):
    assert _profile_summary(tmp_path / "absent.txt") == ["(py-spy could not attach to the host here)"]


def test_the_json_and_the_chart_keep_the_calls_per_route(tmp_path):
    e2e = EndToEnd(ours_files=2, ours_calls={"POST /batches": 2, "GET /batches/{id}/documents": 2})
    raw = json.loads(json.dumps(_plain({"end_to_end": asdict(e2e)})))

    assert raw["end_to_end"]["ours_calls"] == {"POST /batches": 2, "GET /batches/{id}/documents": 2}
    assert chart(raw, tmp_path / "bench.png").stat().st_size > 0
