"""gRPC server reflection, both ``grpc.reflection.v1`` and ``grpc.reflection.v1alpha``.

grpcio-reflection ships only the v1alpha service, but current tools (grpcurl, Postman,
grpc-java, grpc-go) ask ``grpc.reflection.v1`` first. The two versions are the same
protocol: ``grpc/reflection/v1/reflection.proto`` is the v1alpha file in another package,
with the same messages and field numbers, so their bytes on the wire are identical. So
one servicer serves both: v1alpha as grpcio-reflection registers it, and v1 under its
own service name with the same (wire-identical) messages. The v1 file descriptor — the
v1alpha one with its package renamed — is added to the default descriptor pool, so a
client asking reflection about v1 itself gets an answer too.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from grpc import aio
from grpc_reflection.v1alpha import reflection as v1alpha
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer  # = reflection.aio.…

V1ALPHA_PACKAGE = "grpc.reflection.v1alpha"
V1_PACKAGE = "grpc.reflection.v1"
V1_FILE = "grpc/reflection/v1/reflection.proto"
V1ALPHA_SERVICE_NAME: str = v1alpha.SERVICE_NAME
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
SERVICE_NAMES = (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
METHOD = "ServerReflectionInfo"


def _renamed(type_name: str) -> str:
    prefix = f".{V1ALPHA_PACKAGE}."
    if not type_name.startswith(prefix):
        return type_name
    return f".{V1_PACKAGE}.{type_name[len(prefix) :]}"


def v1_file_descriptor(
    pool: descriptor_pool.DescriptorPool | None = None,
) -> FileDescriptor:
    """The v1 reflection file in ``pool`` (the default pool), added if missing."""
    pool = pool or descriptor_pool.Default()
    try:
        return pool.FindFileContainingSymbol(V1_SERVICE_NAME)
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    v1alpha_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = V1_FILE
    proto.package = V1_PACKAGE
    for message in proto.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = _renamed(field.type_name)
    for service in proto.service:
        for method in service.method:
            method.input_type = _renamed(method.input_type)
            method.output_type = _renamed(method.output_type)
    proto.options.java_package = "io.grpc.reflection.v1"
    proto.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    pool.AddSerializedFile(proto.SerializeToString())
    return pool.FindFileByName(V1_FILE)


def enable_reflection(service_names: Iterable[str], server: aio.Server) -> None:
    """Serve reflection v1 and v1alpha on ``server``, listing ``service_names`` and the
    two reflection services."""
    v1_file_descriptor()
    servicer = ReflectionServicer((*service_names, *SERVICE_NAMES))
    for name in SERVICE_NAMES:
        handlers = {
            METHOD: grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=v1alpha_pb2.ServerReflectionRequest.FromString,
                response_serializer=v1alpha_pb2.ServerReflectionResponse.SerializeToString,
            )
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))


__all__ = ["SERVICE_NAMES", "V1_SERVICE_NAME", "enable_reflection", "v1_file_descriptor"]
