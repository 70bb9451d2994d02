"""`python -m bench.rss BLOB`: submit one source blob in a fresh process and print its peak RSS
(MiB), so the submit path's memory can be compared for a small and a large document."""

from __future__ import annotations

import resource
import sys

from shared.pipeline.context import PipelineContext
from shared.pipeline.submit import submit_dropped_blob
from shared.settings import Settings


def main(argv: list[str]) -> int:
    ctx = PipelineContext(Settings.from_env())
    blob = ctx.storage.container(ctx.settings.source_container).get_blob_client(argv[0])
    submit_dropped_blob(blob, ctx)
    print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")  # Linux: kilobytes
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
