"""`make demo`: the product end to end on a fresh local stack.

Starts Azurite, the emulator and the local functions host; uploads the sample glossary and the
sample rules per folder; drops the sample documents (several formats, two target languages, files
that must be rejected, and one in a folder whose rule gives it another language);
waits until every file has a final record; prints one row per document and language and the
operator tool's status; stops, and says how to start a stack that stays.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from azure.storage.blob import ContainerClient

from devstack.azurite import PROJECT_ROOT
from devstack.dropping import drop_files, wait_for_final_records
from devstack.stack import LocalStack, StackConfig
from shared.runtime import configure_logging
from shared.settings import SETTINGS_SPEC
from shared.storage.clients import StorageClients

SAMPLES = PROJECT_ROOT / "samples"
DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}
# As a person types it from the repository: `make` installs the console script in the virtualenv,
# which is not on PATH unless activated.
OPERATOR_TOOL = ".venv/bin/translation-ops"
# The sample rules per folder, uploaded beside the glossaries (RULES_BLOB), and the sample dropped
# into the folder of one of its rules.
RULES_FILE = SAMPLES / "rules.json"
RULES_BLOB_NAME = "rules.json"
RULED_SAMPLE = ("welcome.txt", "espanol/welcome.txt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack demo", description=__doc__)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for every final record")
    args = parser.parse_args(argv)
    configure_logging(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="devstack-demo-") as workdir:
        config = StackConfig.on_free_ports(
            Path(workdir),
            # Demo pace: poll every 2 seconds rather than every minute.
            settings_overrides={
                "POLL_SCHEDULE": "*/2 * * * * *",
                "TARGET_LANGUAGES": "fr,de",
                "RULES_BLOB": f"{DEFAULTS['GLOSSARY_CONTAINER']}/{RULES_BLOB_NAME}",
            },
            host_args=["--watch-interval", "0.5"],
        )
        print("Starting Azurite, the Document Translation emulator and the local functions host...")
        started = time.monotonic()
        with LocalStack(config) as stack:
            settings = stack.settings
            glossaries = StorageClients(settings).container(settings.glossary_container)
            for glossary in sorted((SAMPLES / "glossaries").iterdir()):
                glossaries.upload_blob(glossary.name, glossary.read_bytes(), overwrite=True)
            rules_container, _, rules_name = (settings.rules_blob or "").partition("/")
            StorageClients(settings).container(rules_container).upload_blob(
                rules_name, RULES_FILE.read_bytes(), overwrite=True
            )
            documents = sorted((SAMPLES / "documents").iterdir())
            dropped = drop_files(settings, documents)
            sample, ruled_name = RULED_SAMPLE
            dropped += drop_files(settings, [SAMPLES / "documents" / sample], names=[ruled_name])
            print(
                f"Dropped {len(dropped)} files into '{settings.source_container}' "
                f"(target languages {', '.join(settings.target_languages)}); waiting for their records..."
            )
            records = wait_for_final_records(settings, dropped, timeout=args.timeout)
            elapsed = time.monotonic() - started
            missing = [item.name for item in dropped if item.key not in records]
            if missing:
                print(
                    f"FAILED: no final record after {args.timeout:.0f}s for {', '.join(missing)}; logs in {stack.logs}"
                )
                _print_logs(stack.logs)
                return 1
            print()
            # One row per file and language, as the operator tool shows them (every file has its final
            # record, so it does not wait). It exits 1 because the samples that must be rejected did
            # not succeed: that is what they are there to show.
            _operator_tool(stack.env, "watch", *(f"{settings.source_container}/{item.name}" for item in dropped))
            ruled = next(records[item.key] for item in dropped if item.name == ruled_name)
            if ruled.rule is None or ruled.languages == list(settings.target_languages):
                print(f"FAILED: {ruled_name} did not get its folder rule (languages {', '.join(ruled.languages)})")
                return 1
            print()
            print(
                f"{ruled_name} is under the folder rule '{ruled.rule}' of samples/rules.json: translated into "
                f"{', '.join(ruled.languages)} only, where the other files get {', '.join(settings.target_languages)} "
                f"(TARGET_LANGUAGES); its record and report name the rule and the rules document's version "
                f"{ruled.rules_version}."
            )
            print()
            print(
                f"All {len(dropped)} files have a final record ({elapsed:.1f}s). "
                f"Reports are JSON blobs in '{settings.reports_container}'."
            )
            target = StorageClients(settings).container(settings.target_container)
            sample = target.download_blob("fr/welcome.txt").readall().decode("utf-8", errors="replace")
            print("\nfr/welcome.txt (the emulator's marked pseudo-translation):")
            print("  " + "\n  ".join(sample.splitlines()[:3]))
            for name, lines in _opened_translations(target, "fr", ("letter.docx", "brochure.pdf")):
                print(f"\nfr/{name} (opened as a {name.rsplit('.', 1)[1].upper()} file):")
                print("  " + "\n  ".join(lines[:3]))
            # The operator's view, while there is still a stack to look at.
            print(f"\n{OPERATOR_TOOL} status, before the demo's stack stops:\n")
            _operator_tool(stack.env, "status")
    # The demo's stack and its data are gone now: the last word is how to get one that stays.
    print(
        "The demo's stack is stopped and its data deleted. To try it yourself: `make up`, then in another "
        f"terminal `.venv/bin/python -m devstack drop samples/documents` and `{OPERATOR_TOOL} status`."
    )
    return 0


def _operator_tool(stack_env: dict[str, str], *arguments: str) -> int:
    """Runs the operator tool as a person would type it, pointed at the demo's stack: the demo
    shows the tool's public face and leans on nothing inside it."""
    sys.stdout.flush()  # the tool writes to the same terminal, after what was printed so far
    command = [sys.executable, "-m", "translation_ops", *arguments]
    return subprocess.run(command, env={**os.environ, **stack_env}, check=False).returncode


def _opened_translations(target: ContainerClient, language: str, names: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """The first lines of text of translated Word and PDF samples, read by opening the files: a
    translation that does not open raises here, and the demo fails."""
    import io

    import docx
    from pypdf import PdfReader

    opened = []
    for name in names:
        content = io.BytesIO(target.download_blob(f"{language}/{name}").readall())
        if name.endswith(".docx"):
            lines = [paragraph.text for paragraph in docx.Document(content).paragraphs if paragraph.text.strip()]
        else:
            lines = [line for page in PdfReader(content).pages for line in (page.extract_text() or "").splitlines()]
        opened.append((name, lines))
    return opened


def _print_logs(logs: Path) -> None:
    for log in sorted(logs.glob("*.log")):
        print(f"--- {log.name} (last lines) ---")
        print("\n".join(log.read_text(errors="replace").splitlines()[-30:]))


if __name__ == "__main__":
    sys.exit(main())
