from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerSasPermissions, generate_container_sas


@pytest.mark.integration
def test_azurite_enforces_sas_permissions(azurite):
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("sas-check")
    read_only = generate_container_sas(
        service.account_name,
        "sas-check",
        account_key=service.credential.account_key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(minutes=10),
    )
    with pytest.raises(HttpResponseError) as caught:
        BlobClient.from_blob_url(f"{container.url}/a.txt?{read_only}").upload_blob(b"x")
    assert caught.value.error_code == "AuthorizationPermissionMismatch"
