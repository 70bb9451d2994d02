"""Azure AI Document Translation (batch) REST client on httpx.

from shared.translator import DocumentTranslationClient, TranslationInput, TranslationTarget

with DocumentTranslationClient.from_config(TranslatorConfig(endpoint, key)) as client:
    job_id = client.begin_translation([TranslationInput(source_url, (TranslationTarget(target_url, "fr"),))])
    status = client.get_translation_status(job_id)
"""

from shared.translator.auth import SCOPE, SubscriptionKeyAuth, TokenCredentialAuth
from shared.translator.client import DocumentTranslationClient, Pageable
from shared.translator.config import TranslatorConfig
from shared.translator.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceError,
    ServiceUnreachableError,
    SubmissionUncertainError,
    TranslatorError,
)
from shared.translator.models import (
    FINAL_STATUSES,
    DocumentStatus,
    ErrorDetail,
    FileFormat,
    Glossary,
    JobStatus,
    Page,
    Status,
    StatusSummary,
    TranslationInput,
    TranslationTarget,
    is_final_status,
    is_known_status,
    normalize_status,
)
from shared.translator.protocol import TranslatorService
from shared.translator.retry import RetryPolicy
from shared.translator.routes import API_VERSIONS

__all__ = [
    "API_VERSIONS",
    "FINAL_STATUSES",
    "SCOPE",
    "AuthenticationError",
    "DocumentStatus",
    "DocumentTranslationClient",
    "ErrorDetail",
    "FileFormat",
    "Glossary",
    "InvalidRequestError",
    "JobStatus",
    "NotFoundError",
    "Page",
    "Pageable",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryPolicy",
    "ServiceError",
    "ServiceUnreachableError",
    "Status",
    "StatusSummary",
    "SubmissionUncertainError",
    "SubscriptionKeyAuth",
    "TokenCredentialAuth",
    "TranslationInput",
    "TranslationTarget",
    "TranslatorConfig",
    "TranslatorError",
    "TranslatorService",
    "is_final_status",
    "is_known_status",
    "normalize_status",
]
