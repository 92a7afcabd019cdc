"""``xinlian catalog list|show``: the sharing catalog (共享清单) a node works against.

By default the catalog is read from the gateway (``CatalogService.GetCatalog``) with a node
identity: it is the one the gateway enforces, which may be newer than the one packaged with
this command. ``--local`` shows the packaged catalog instead (no gateway, no identity), e.g.
before applying for access. Both are shown through the same wire message, so ``--json``
has the same keys either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from google.protobuf.json_format import MessageToDict
from rich.table import Table

from authz.catalog import Catalog, Category, Sensitivity
from xinlian.console import data_console, print_json
from xinlian.exit_codes import CommandExit, ExitCode
from xinlian.identity import Identity
from xinlian.v1 import catalog_pb2 as pb
from xinlian.v1 import catalog_pb2_grpc
from xinlian.wire import PURPOSE_FROM_WIRE, PURPOSE_TO_WIRE

RPC_TIMEOUT_S = 30.0
F = TypeVar("F", bound=Callable[..., Any])


def _category_message(category: Category) -> pb.CatalogCategory:
    return pb.CatalogCategory(
        id=category.id,
        name_zh=category.name_zh,
        name_en=category.name_en,
        department=category.department,
        public=category.public,
        fields=[
            pb.CatalogField(
                name=spec.name,
                name_zh=spec.name_zh,
                type=f"FIELD_TYPE_{spec.type.name}",
                required=spec.required,
                sensitivity=f"SENSITIVITY_{spec.sensitivity.name}",
                default_mask=spec.default_mask,
                description=spec.description,
            )
            for spec in category.fields
        ],
        update_frequency=category.update_frequency,
        update_deadline_days=category.update_deadline_days,
        relay_upstream=category.relay_upstream,
        purposes=[PURPOSE_TO_WIRE[p.value] for p in category.purposes],
        negative=category.negative,
    )


def local_catalog() -> pb.GetCatalogResponse:
    """The catalog packaged with this command, as the gateway would send it."""
    catalog = Catalog.default()
    return pb.GetCatalogResponse(
        version=catalog.version,
        categories=[_category_message(c) for c in catalog.categories.values()],
    )


def _load(identity: Path | None, gateway: str | None, local: bool) -> pb.GetCatalogResponse:
    if local:
        return local_catalog()
    if identity is None:
        raise click.UsageError("give --identity DIR (read from the gateway) or --local")
    with Identity.load(identity, gateway=gateway).channel() as channel:
        response: pb.GetCatalogResponse = catalog_pb2_grpc.CatalogServiceStub(channel).GetCatalog(
            pb.GetCatalogRequest(), timeout=RPC_TIMEOUT_S
        )
    return response


def _sensitivity(value: int) -> str:
    """The catalog's own spelling (``internal``, ``C2``), not the wire enum's."""
    return Sensitivity[pb.Sensitivity.Name(value).removeprefix("SENSITIVITY_")].value


def _as_dict(message: pb.CatalogCategory) -> dict[str, object]:
    out = MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    out["purposes"] = [PURPOSE_FROM_WIRE.get(int(p), str(p)) for p in message.purposes]
    for spec, field in zip(message.fields, out["fields"], strict=True):
        field["type"] = pb.FieldType.Name(spec.type).removeprefix("FIELD_TYPE_").lower()
        field["sensitivity"] = _sensitivity(spec.sensitivity)
    return out


SOURCE_OPTIONS = (
    click.option(
        "--identity",
        type=click.Path(path_type=Path, exists=True, file_okay=False),
        help="Node identity directory: read the catalog the gateway enforces.",
    ),
    click.option("--gateway", help="Override the gateway address HOST:PORT."),
    click.option("--local", is_flag=True, help="Show the packaged catalog (no gateway)."),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
)


def _source_options(fn: F) -> F:
    for option in reversed(SOURCE_OPTIONS):
        fn = option(fn)
    return fn


@click.group("catalog")
def catalog_group() -> None:
    """The sharing catalog (共享清单): categories, their fields and who provides them."""


@catalog_group.command("list")
@_source_options
def list_cmd(identity: Path | None, gateway: str | None, local: bool, as_json: bool) -> None:
    """List the catalog's categories."""
    response = _load(identity, gateway, local)
    if as_json:
        categories = [_as_dict(c) for c in response.categories]
        print_json({"version": response.version, "categories": categories})
        return
    table = Table(title=f"catalog {response.version}")
    for column in ("category", "名称", "department", "public", "negative", "fields", "update"):
        table.add_column(column)
    for c in response.categories:
        table.add_row(
            c.id,
            c.name_zh,
            c.department,
            "yes" if c.public else "no",
            "yes" if c.negative else "no",
            str(len(c.fields)),
            f"{c.update_frequency}, {c.update_deadline_days} working days",
        )
    data_console().print(table)


@catalog_group.command("show")
@click.argument("category")
@_source_options
def show_cmd(
    category: str, identity: Path | None, gateway: str | None, local: bool, as_json: bool
) -> None:
    """Show one category and its fields."""
    response = _load(identity, gateway, local)
    found = next((c for c in response.categories if c.id == category), None)
    if found is None:
        known = ", ".join(c.id for c in response.categories)
        click.echo(f"error: no category {category!r} in the catalog (known: {known})", err=True)
        raise CommandExit(ExitCode.USAGE)
    if as_json:
        print_json({"version": response.version, "category": _as_dict(found)})
        return
    table = Table(title=f"{found.id} · {found.name_zh} · {found.name_en}")
    for column in ("field", "名称", "type", "required", "sensitivity", "default mask"):
        table.add_column(column)
    for spec in found.fields:
        table.add_row(
            spec.name,
            spec.name_zh,
            pb.FieldType.Name(spec.type).removeprefix("FIELD_TYPE_").lower(),
            "yes" if spec.required else "no",
            _sensitivity(spec.sensitivity),
            spec.default_mask,
        )
    data_console().print(table)
