"""Example answers copied from the service's reference pages (../shared/reference/)."""

# The example answer of "Get operation status" (reference page 002).
JOB_EXAMPLE = {
    "id": "727bf148-f327-47a0-9481-abae6362f11e",
    "createdDateTimeUtc": "2020-03-26T00:00:00Z",
    "lastActionDateTimeUtc": "2020-03-26T01:00:00Z",
    "status": "Succeeded",
    "summary": {
        "total": 10,
        "failed": 1,
        "success": 9,
        "inProgress": 0,
        "notYetStarted": 0,
        "cancelled": 0,
        "totalCharacterCharged": 0,
    },
}

JOB_ID = JOB_EXAMPLE["id"]
