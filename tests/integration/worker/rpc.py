"""The Functions host <-> language worker messages (proto/, the maintainers' definition), compiled here.

The worker Azure runs receives these messages over gRPC and hands them to azure-functions-runtime
as `request.request` with `request.properties["protos"]` being the compiled module; no PyPI package
ships them built for today's protobuf (azure-functions-worker 1.1.9 carries 2020 messages built for
protobuf 3), so `compile_protos` runs protoc (grpcio-tools) over proto/ into a package of our own.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

PROTO_DIR = Path(__file__).parent / "proto"
PACKAGE = "functions_rpc"  # not `shared`: protoc's own package names would shadow the app's shared/
PROTO_FILES = ("FunctionRpc.proto", "identity/ClaimsIdentityRpc.proto", "shared/NullableTypes.proto")


def compile_protos(out_dir: Path) -> Path:
    """Writes package `functions_rpc` under out_dir; returns out_dir (to put on sys.path)."""
    import grpc_tools
    from grpc_tools import protoc

    package = out_dir / PACKAGE
    for folder in (package, package / "identity", package / "shared"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    status = protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={package}", *PROTO_FILES])
    if status != 0:
        raise RuntimeError(f"protoc failed ({status}) on {PROTO_DIR}")
    # protoc writes `from shared import NullableTypes_pb2`: make it name our package, as the
    # worker's own build does (protobuf issue 1491).
    for generated in package.rglob("*_pb2.py"):
        text = generated.read_text()
        text = re.sub(r"^from (identity|shared) import", rf"from {PACKAGE}.\1 import", text, flags=re.MULTILINE)
        generated.write_text(text)
    # What the worker's `protos` module exports: every message and enum of FunctionRpc and NullableTypes.
    (package / "__init__.py").write_text(
        f"from {PACKAGE}.FunctionRpc_pb2 import *  # noqa: F403\n"
        f"from {PACKAGE}.shared.NullableTypes_pb2 import *  # noqa: F403\n"
    )
    return out_dir


def load_protos(out_dir: Path) -> ModuleType:
    if str(out_dir) not in sys.path:
        sys.path.insert(0, str(out_dir))
    return importlib.import_module(PACKAGE)
