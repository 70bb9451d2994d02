"""Completion noticed when the translation is written (work in progress in this commit)."""

from __future__ import annotations

from shared.pipeline.context import PipelineContext


def notice_translation_written(ctx: PipelineContext, blob_name: str) -> None:
    raise NotImplementedError("the look at the job on a staging write is being written")
