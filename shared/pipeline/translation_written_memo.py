"""What one instance remembers between written translations' events (translation_written.py)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The files and submissions an instance remembers (a bulk job has up to 1,000 files).
REMEMBERED = 4096
# The jobs whose written files an instance counts (each up to 1,000 record keys).
COUNTED_JOBS = 64


@dataclass(frozen=True)
class WrittenFile:
    """One file of a job, as its translations' events need it."""

    submission: str
    staging_names: frozenset[str]


class LooksNoticedHere:
    """What one instance remembers between events: the files it resolved, the files it saw written,
    and the looks it knows are promised (so a burst of events costs a read or two, not one each)."""

    def __init__(self, size: int = REMEMBERED):
        self._size = size
        self._files: OrderedDict[tuple[str, int], WrittenFile] = OrderedDict()
        self._written: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._seen: OrderedDict[tuple[str, int], frozenset[str]] = OrderedDict()
        self._promised: OrderedDict[str, datetime] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        # Per job: how many files it has (once a look read its submission), and those seen written here.
        self._job_files: OrderedDict[str, int] = OrderedDict()
        self._written_files: OrderedDict[str, set[str]] = OrderedDict()
        # The promised look an invocation here waits to take itself, per submission (one at a time).
        self._kept: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def file(self, key: str, attempt: int) -> WrittenFile | None:
        with self._lock:
            return self._files.get((key, attempt))

    def remember_file(self, key: str, attempt: int, file: WrittenFile) -> None:
        with self._lock:
            self._put(self._files, (key, attempt), file)

    def was_written(self, key: str, attempt: int) -> bool:
        with self._lock:
            return (key, attempt) in self._written

    def saw_written(self, key: str, attempt: int, staging_name: str) -> frozenset[str]:
        """Notes that an event here said `staging_name` was written: every one this instance saw
        for that file's attempt."""
        with self._lock:
            seen = self._seen.get((key, attempt), frozenset()) | {staging_name}
            self._put(self._seen, (key, attempt), seen)
            return seen

    def remember_written(self, key: str, attempt: int) -> None:
        with self._lock:
            self._put(self._written, (key, attempt), None)

    def promised_after(self, submission: str, moment: datetime) -> datetime | None:
        """When a look at the submission's job is known to start, if at or after `moment`."""
        with self._lock:
            promised = self._promised.get(submission)
            return promised if promised is not None and promised >= moment else None

    def start_keeping(self, submission: str, moment: datetime) -> bool:
        """True for the first invocation here to wait for the look promised at `moment`: the others
        leave it to that one."""
        with self._lock:
            kept = self._kept.get(submission)
            if kept is not None and kept >= moment:
                return False
            self._kept[submission] = moment
            return True

    def stop_keeping(self, submission: str, moment: datetime) -> None:
        with self._lock:
            if self._kept.get(submission) == moment:
                del self._kept[submission]

    def remember_promise(self, submission: str, moment: datetime) -> None:
        with self._lock:
            self._put(self._promised, submission, moment)

    def remember_files(self, submission: str, files: int) -> None:
        with self._lock:
            self._put(self._job_files, submission, files)

    def note_file_written(self, submission: str, key: str) -> bool:
        """Notes that every language of the file `key` is written: True once this instance saw
        every file of the job written (the job's pace no longer says when it ends)."""
        with self._lock:
            written = self._written_files.get(submission) or set()
            written.add(key)
            self._put_counted(self._written_files, submission, written)
            files = self._job_files.get(submission)
            return files is not None and len(written) >= files

    def has_ended(self, submission: str) -> bool:
        with self._lock:
            return submission in self._ended

    def remember_ended(self, submission: str) -> None:
        """Its job was found final (or its submission gone): later events for it ask nothing."""
        with self._lock:
            self._put(self._ended, submission, None)

    def _put(self, store: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        self._put_counted(store, key, value, self._size)

    @staticmethod
    def _put_counted(store: OrderedDict[Any, Any], key: Any, value: Any, size: int = COUNTED_JOBS) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > size:
            store.popitem(last=False)
