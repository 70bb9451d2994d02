import pytest

from shared.settings import MAX_TARGET_LANGUAGES, Settings, SettingsError, StorageAccessMode, parse_languages

BASE = {
    "TRANSLATOR_ENDPOINT": "https://example.cognitiveservices.azure.com/",
    "TRANSLATION_STORAGE": "UseDevelopmentStorage=true",
}


def test_defaults_fill_everything_but_the_endpoint_and_storage():
    settings = Settings.from_env(BASE)
    assert settings.source_container == "source"
    assert settings.target_container == "target"
    assert settings.target_languages == ("fr", "de")
    assert settings.translator_endpoint == "https://example.cognitiveservices.azure.com"
    assert settings.storage_access_mode is StorageAccessMode.SAS
    assert settings.poison_queue == "translation-results-poison"
    assert settings.records_table == "translationrecords"
    assert settings.submission_max_seconds == 90


def test_missing_required_settings_are_all_named_at_once():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({})
    message = str(caught.value)
    assert "TRANSLATOR_ENDPOINT is required" in message
    assert "TRANSLATION_STORAGE" in message


def test_same_source_and_target_container_is_refused_with_what_to_fix():
    with pytest.raises(SettingsError, match="must all differ"):
        Settings.from_env({**BASE, "SOURCE_CONTAINER": "docs", "TARGET_CONTAINER": "docs"})


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("STORAGE_ACCESS_MODE", "ftp", "must be one of sas, managed-identity"),
        ("TRANSLATOR_API_VERSION", "v2", "must be one of"),
        ("SAS_EXPIRY_MINUTES", "soon", "whole number"),
        ("SOURCE_CONTAINER", "Bad_Name", "not a valid container name"),
        ("TARGET_LANGUAGES", "fr,not a code", "not a language code"),
        ("RETRANSLATE_POLICY", "sometimes", "replace, keep"),
        ("POLL_SCHEDULE", "*/5 * * * *", "six fields"),
        ("CATCH_UP_SCHEDULE", "hourly", "six fields"),
        ("TRANSLATOR_ENDPOINT", "my-translator", "http"),
        ("SOURCE_LANGUAGE", "english!", "not a language code"),
    ],
)
def test_impossible_values_are_refused(name, value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env({**BASE, name: value})


def test_identity_based_storage_needs_all_three_service_uris():
    env = {
        "TRANSLATOR_ENDPOINT": "https://x.cognitiveservices.azure.com",
        "TRANSLATION_STORAGE__blobServiceUri": "https://acct.blob.core.windows.net",
    }
    with pytest.raises(SettingsError, match="queueServiceUri"):
        Settings.from_env(env)
    env["TRANSLATION_STORAGE__queueServiceUri"] = "https://acct.queue.core.windows.net"
    env["TRANSLATION_STORAGE__tableServiceUri"] = "https://acct.table.core.windows.net"
    assert Settings.from_env(env).storage.uses_identity


def test_language_list_is_deduplicated_and_bounded():
    assert parse_languages("fr, de ,FR") == ("fr", "de")
    with pytest.raises(ValueError, match="at most"):
        parse_languages(",".join(f"l{chr(97 + i)}" for i in range(MAX_TARGET_LANGUAGES + 1)))
    with pytest.raises(ValueError, match="no target language"):
        parse_languages(" , ")


def test_repr_never_shows_the_key():
    settings = Settings.from_env({**BASE, "TRANSLATOR_KEY": "supersecretkey"})
    assert "supersecretkey" not in repr(settings)


def test_every_setting_is_in_the_readme_table_with_its_default():
    from pathlib import Path

    from shared.settings import SETTINGS_SPEC

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for spec in SETTINGS_SPEC:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{spec.name}` |")), None)
        assert row is not None, f"{spec.name} missing from the README's settings table"
        if spec.default:
            assert f"`{spec.default}`" in row, f"{spec.name}'s default not shown in the README"


def test_a_reconcile_delay_shorter_than_a_submission_can_take_is_refused():
    with pytest.raises(SettingsError, match="SUBMIT_RECONCILE_AFTER_SECONDS=60 is shorter"):
        Settings.from_env({**BASE, "SUBMIT_RECONCILE_AFTER_SECONDS": "60"})
    assert Settings.from_env({**BASE, "SUBMIT_RECONCILE_AFTER_SECONDS": "6", "TRANSLATOR_TIMEOUT_SECONDS": "2"})


def test_a_stuck_threshold_past_the_sas_lifetime_is_refused():
    with pytest.raises(SettingsError, match="STUCK_JOB_AFTER_MINUTES=300 must be less than SAS_EXPIRY_MINUTES=240"):
        Settings.from_env({**BASE, "STUCK_JOB_AFTER_MINUTES": "300"})


def test_languages_take_canonical_case():
    settings = Settings.from_env({**BASE, "TARGET_LANGUAGES": "FR,zh-hans", "SOURCE_LANGUAGE": "EN"})
    assert settings.target_languages == ("fr", "zh-Hans") and settings.source_language == "en"


def test_wiring_the_app_registers_the_key_for_redaction():
    from shared.pipeline.context import PipelineContext
    from shared.redaction import redact

    PipelineContext(Settings.from_env({**BASE, "TRANSLATOR_KEY": "registered-translator-key-123"}))
    assert "registered-translator-key-123" not in redact("sent registered-translator-key-123")


def test_reading_settings_registers_no_secret_as_a_side_effect():
    from shared.redaction import redact

    account_key = "an-account-key-only-parsed-456"
    Settings.from_env(
        {
            **BASE,
            "TRANSLATOR_KEY": "a-translator-key-only-parsed-123",
            "TRANSLATION_STORAGE": f"AccountName=x;AccountKey={account_key};BlobEndpoint=http://127.0.0.1:1/x",
        }
    )
    assert redact("a-translator-key-only-parsed-123 / an-account-key-only-parsed-456") == (
        "a-translator-key-only-parsed-123 / an-account-key-only-parsed-456"
    )


def test_the_settings_secrets_are_the_key_and_the_storage_account_key():
    settings = Settings.from_env(
        {**BASE, "TRANSLATOR_KEY": "translator-key-1", "TRANSLATION_STORAGE": "AccountName=x;AccountKey=account-key-2"}
    )
    assert settings.secret_values == ("translator-key-1", "account-key-2")


def test_each_field_of_the_settings_is_filled_by_the_spec_entry_of_its_name():
    from dataclasses import fields

    from shared.settings import SETTINGS_SPEC

    filled = {spec.attribute for spec in SETTINGS_SPEC if spec.attribute is not None}
    assert filled == {item.name for item in fields(Settings)} - {"storage"}
    schedules = {spec.name for spec in SETTINGS_SPEC if spec.attribute is None}
    assert schedules == {"POLL_SCHEDULE", "CATCH_UP_SCHEDULE"}


def test_a_rule_between_settings_is_checked_only_once_both_parse():
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**BASE, "SAS_EXPIRY_MINUTES": "later"})
    message = str(caught.value)
    assert "SAS_EXPIRY_MINUTES must be a whole number, got 'later'" in message
    # Not a second, misleading line about a value nobody gave.
    assert "must be less than SAS_EXPIRY_MINUTES" not in message
