"""`python -m devstack drop` and `up`, as a new user runs them: with the stack down, folders, bad settings."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from devstack.ports import free_port
from devstack.stack_cli import blob_name_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[3]


def run_drop(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "drop", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dropping_with_the_stack_down_says_so_at_once(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    port = free_port()
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{port}/q;"
        f"TableEndpoint=http://127.0.0.1:{port}/t;"
    )
    started = time.monotonic()
    done = run_drop(["a.txt"], {"TRANSLATION_STORAGE": connection}, tmp_path)
    assert time.monotonic() - started < 5 + 3  # interpreter start-up included
    assert done.returncode == 2
    assert "not running" in done.stderr and "make up" in done.stderr and "Traceback" not in done.stderr


def test_relative_paths_keep_their_folders_and_as_renames(azurite, tmp_path):
    folder = tmp_path / "letters" / "2026"
    folder.mkdir(parents=True)
    (folder / "june.txt").write_text("hello")
    env = {"TRANSLATION_STORAGE": azurite.connection_string, "SOURCE_CONTAINER": "dropcli"}
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("dropcli")
    assert run_drop(["letters/2026/june.txt"], env, tmp_path).returncode == 0
    assert run_drop(["letters/2026/june.txt", "--as", "renamed/july.txt"], env, tmp_path).returncode == 0
    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client("dropcli")
    assert {blob.name for blob in container.list_blobs()} == {"letters/2026/june.txt", "renamed/july.txt"}


def test_a_folder_drops_every_file_under_it_with_its_path(azurite, tmp_path):
    (tmp_path / "letters" / "2026").mkdir(parents=True)
    (tmp_path / "letters" / "2026" / "june.txt").write_text("hello")
    (tmp_path / "letters" / "may.txt").write_text("hello")
    (tmp_path / "letters" / ".DS_Store").write_text("not a document")
    env = {"TRANSLATION_STORAGE": azurite.connection_string, "SOURCE_CONTAINER": "dropfolder"}
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("dropfolder")
    done = run_drop(["letters"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client("dropfolder")
    assert {blob.name for blob in container.list_blobs()} == {"letters/2026/june.txt", "letters/may.txt"}
    assert run_drop([str(tmp_path / "letters" / "2026")], env, tmp_path).returncode == 0  # absolute: its own name
    assert "2026/june.txt" in {blob.name for blob in container.list_blobs()}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.txt"], ["no such file or folder: missing.txt", "check the path"]),
        (["empty"], ["empty is a folder with no files in it"]),
    ],
)
def test_a_missing_file_or_an_empty_folder_is_one_line_and_exit_2(azurite, tmp_path, args, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a.txt").write_text("hello")
    env = {"TRANSLATION_STORAGE": azurite.connection_string, "SOURCE_CONTAINER": "dropmissing"}
    done = run_drop(["a.txt", *args], env, tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("devstack drop: ") and all(word in line for word in words), line
    assert done.stdout == ""  # nothing dropped: not even the file that exists


@pytest.mark.parametrize(
    ("path", "name"),
    [("a/b/c.txt", "a/b/c.txt"), ("./a.txt", "a.txt"), ("/tmp/x/y.txt", "y.txt"), ("../up/z.txt", "z.txt")],
)
def test_blob_names_follow_the_path_given(path, name):
    assert blob_name_for(Path(path)) == name


def test_up_refuses_impossible_settings_at_once_and_leaves_nothing_running(tmp_path):
    from devstack.azurite import STANDARD_PORTS
    from devstack.ports import port_open

    if any(port_open("127.0.0.1", port) for port in (*STANDARD_PORTS, 5080, 7071)):
        pytest.skip("the local stack's standard ports are taken on this machine")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "up"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TARGET_LANGUAGES": "fr,not a code"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "TARGET_LANGUAGES" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 30  # Azurite's start-up included
    assert not any(port_open("127.0.0.1", port) for port in STANDARD_PORTS)  # Azurite was stopped again


def test_up_refuses_fewer_than_one_instance_with_a_plain_message():
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "up", "--instances", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--instances must be at least 1" in done.stderr and "Traceback" not in done.stderr


def test_several_instances_get_ports_of_their_own_and_share_one_storage_account(tmp_path):
    from devstack.stack import StackConfig

    config = StackConfig.on_free_ports(tmp_path, host_instances=3)
    assert len(set(config.host_ports)) == 3
    assert not set(config.host_ports) & {*config.azurite_ports, config.emulator_port}
