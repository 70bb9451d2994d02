"""SAS URLs signed by a clock running ahead of storage's still work (real Azurite checks them)."""

from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import BlobClient

from shared.storage.service_access import ServiceAccess
from tests.pipeline.conftest import upload

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("skew_minutes", [7, -7])
def test_a_sas_from_a_skewed_clock_is_accepted_by_storage(ctx, skew_minutes):
    upload(ctx, "skew.txt", b"Hello")
    skewed = ServiceAccess(ctx.settings, ctx.storage, now=lambda: datetime.now(UTC) + timedelta(minutes=skew_minutes))
    url = skewed.source_url(ctx.settings.source_container, "skew.txt")
    assert BlobClient.from_blob_url(url).download_blob().readall() == b"Hello"
