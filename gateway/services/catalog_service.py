"""CatalogService: serves the sharing catalog the gateway loaded."""

from __future__ import annotations

from grpc import aio

from authz.catalog import Catalog, FieldType, Sensitivity
from gateway.flows.runtime import Runtime
from xinlian.v1 import catalog_pb2 as pb
from xinlian.v1 import catalog_pb2_grpc
from xinlian.wire import purpose_to_wire

_TYPES = {
    FieldType.STRING: pb.FIELD_TYPE_STRING,
    FieldType.INTEGER: pb.FIELD_TYPE_INTEGER,
    FieldType.DECIMAL: pb.FIELD_TYPE_DECIMAL,
    FieldType.DATE: pb.FIELD_TYPE_DATE,
    FieldType.DATETIME: pb.FIELD_TYPE_DATETIME,
    FieldType.BOOLEAN: pb.FIELD_TYPE_BOOLEAN,
}
_SENSITIVITY = {
    Sensitivity.PUBLIC: pb.SENSITIVITY_PUBLIC,
    Sensitivity.INTERNAL: pb.SENSITIVITY_INTERNAL,
    Sensitivity.C1: pb.SENSITIVITY_C1,
    Sensitivity.C2: pb.SENSITIVITY_C2,
    Sensitivity.C3: pb.SENSITIVITY_C3,
}


def catalog_to_wire(catalog: Catalog) -> pb.GetCatalogResponse:
    return pb.GetCatalogResponse(
        version=catalog.version,
        categories=[
            pb.CatalogCategory(
                id=c.id,
                name_zh=c.name_zh,
                name_en=c.name_en,
                department=c.department,
                public=c.public,
                fields=[
                    pb.CatalogField(
                        name=f.name,
                        name_zh=f.name_zh,
                        type=_TYPES[f.type],
                        required=f.required,
                        sensitivity=_SENSITIVITY[f.sensitivity],
                        default_mask=f.default_mask,
                        description=f.description,
                    )
                    for f in c.fields
                ],
                update_frequency=c.update_frequency,
                update_deadline_days=c.update_deadline_days,
                relay_upstream=c.relay_upstream,
                purposes=[purpose_to_wire(p) for p in c.purposes],
                negative=c.negative,
            )
            for c in catalog.categories.values()
        ],
    )


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._wire = catalog_to_wire(rt.catalog)

    async def GetCatalog(
        self, request: pb.GetCatalogRequest, context: aio.ServicerContext
    ) -> pb.GetCatalogResponse:
        return self._wire
