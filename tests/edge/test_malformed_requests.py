"""Fail loudly: requests that do not decode, out-of-range timestamps and oversize
identifiers get INVALID_ARGUMENT with a reason and the request id (never UNKNOWN,
INTERNAL or a metadata overflow), and reflection answers in v1 and v1alpha."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.harness import Gateway, running_gateway

import xinlian.v1
from authz.catalog import Catalog
from gateway.edge.access import ACCESS, BOOTSTRAP
from gateway.edge.decode import MALFORMED_REQUEST
from gateway.host.reflection import v1_file_descriptor
from node_agent.push import Pusher
from xinlian.batch import BatchRecord
from xinlian.identity import Identity
from xinlian.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    authorization_pb2_grpc,
    common_pb2,
    exchange_pb2,
    exchange_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from xinlian_samples.generator import generate_enterprises, generate_records

pytestmark = pytest.mark.integration

CODE = generate_enterprises(1, seed=4)[0].credit_code
KINDS = ("admin", "officer", "institution", "city_platform", "department", "gateway")


@dataclass(frozen=True)
class Method:
    path: str
    request: type[Message]
    client_streaming: bool
    server_streaming: bool

    def __str__(self) -> str:
        return self.path


def _methods() -> list[Method]:
    # every service of the contract: each generated module of xinlian/v1, so a new
    # service is tested without editing this list
    contract = Path(xinlian.v1.__file__).parent
    files = [
        importlib.import_module(f"xinlian.v1.{path.stem}").DESCRIPTOR
        for path in sorted(contract.glob("*_pb2.py"))
    ]
    files += [health_pb2.DESCRIPTOR, reflection_pb2.DESCRIPTOR, v1_file_descriptor()]
    out = []
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                if path in ACCESS:  # others are refused before decoding (no access rule)
                    out.append(_method(path, method))
    return out


def _method(path: str, method: MethodDescriptor) -> Method:
    request = message_factory.GetMessageClass(method.input_type)
    return Method(path, request, method.client_streaming, method.server_streaming)


METHODS = _methods()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("malformed")) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def identities(gw: Gateway) -> dict[str, Identity]:
    enrolled: dict[str, Identity] = {"admin": gw.admin()}
    for kind in KINDS[1:]:
        categories = ("tax",) if kind == "department" else ()
        enrolled[kind] = gw.enroll_node(kind, categories=categories)
    return enrolled


@pytest.fixture(scope="module")
def channels(identities: dict[str, Identity]) -> Iterator[dict[str, grpc.Channel]]:
    opened = {kind: identity.channel() for kind, identity in identities.items()}
    yield opened
    for channel in opened.values():
        channel.close()


def _caller(channels: dict[str, grpc.Channel], path: str) -> grpc.Channel:
    """A channel of a node kind the method's access rule allows (bootstrap: any)."""
    rule = ACCESS[path]
    if rule == BOOTSTRAP:
        return channels["admin"]
    return channels[next(kind for kind in KINDS if kind in rule)]


def _call_raw(channel: grpc.Channel, method: Method, data: bytes) -> grpc.RpcError | None:
    """Send ``data`` as the (only) request message of ``method``, bytes as they are."""
    try:
        if method.client_streaming and method.server_streaming:
            list(channel.stream_stream(method.path)(iter([data]), timeout=10))
        elif method.client_streaming:
            channel.stream_unary(method.path)(iter([data]), timeout=10)
        elif method.server_streaming:
            list(channel.unary_stream(method.path)(data, timeout=10))
        else:
            channel.unary_unary(method.path)(data, timeout=10)
    except grpc.RpcError as err:
        return err
    return None


def _trailers(err: grpc.RpcError) -> dict[str, str]:
    return {k: str(v) for k, v in (err.trailing_metadata() or ())}  # type: ignore[attr-defined]


def _assert_malformed(err: grpc.RpcError | None) -> None:
    assert err is not None, "a request that does not decode was served"
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), err.details())
    trailers = _trailers(err)
    assert trailers.get("xinlian-reason") == MALFORMED_REQUEST
    assert trailers.get("xinlian-field") == "request"
    assert len(trailers.get("xinlian-request-id", "")) == 16
    assert (err.details() or "").startswith("request: got ")


def _does_not_decode(method: Method, data: bytes) -> bool:
    try:
        method.request.FromString(data)
    except DecodeError:
        return True
    return False


# A tag of field 1 with wire type 7 (no such wire type), a varint cut short, a field 1
# claiming 100 bytes of which none follow.
NEVER_DECODE = (b"\x0f", b"\xff", b"\x0a\x64")


@pytest.mark.parametrize("method", METHODS, ids=str)
def test_every_method_refuses_bytes_that_do_not_decode(
    channels: dict[str, grpc.Channel], method: Method
) -> None:
    for data in NEVER_DECODE:
        assert _does_not_decode(method, data)
        _assert_malformed(_call_raw(_caller(channels, method.path), method, data))


def _filled(message: Message, depth: int = 0) -> Message:
    """``message`` with every singular string, bytes and message field set (so a cut
    of its bytes often lands inside a length-delimited value)."""
    for field in message.DESCRIPTOR.fields:
        if field.is_repeated or depth > 2:
            continue
        if field.type == field.TYPE_STRING:
            setattr(message, field.name, f"value of {field.name}")
        elif field.type == field.TYPE_BYTES:
            setattr(message, field.name, b"\x01\x02\x03\x04")
        elif field.type == field.TYPE_MESSAGE:
            _filled(getattr(message, field.name), depth + 1)
    return message


@st.composite
def _undecodable(draw: st.DrawFn, method: Method) -> bytes:
    kind = draw(st.sampled_from(["random", "truncated", "wire_type"]))
    if kind == "random":
        data = draw(st.binary(min_size=1, max_size=64))
    elif kind == "truncated":
        whole = _filled(method.request()).SerializeToString()
        assume(len(whole) > 1)
        data = whole[: draw(st.integers(1, len(whole) - 1))]
    else:  # field 1 (or another) under a wire type it cannot have, then some bytes
        number = draw(st.integers(1, 15))
        wire_type = draw(st.sampled_from([2, 3, 4, 6, 7]))
        data = bytes([number << 3 | wire_type]) + draw(st.binary(max_size=8))
    assume(_does_not_decode(method, data))
    return data


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_bytes_that_do_not_decode_are_invalid_argument(
    channels: dict[str, grpc.Channel], data: st.DataObject
) -> None:
    method = data.draw(st.sampled_from(METHODS), label="method")
    raw = data.draw(_undecodable(method), label="bytes")
    _assert_malformed(_call_raw(_caller(channels, method.path), method, raw))


def test_bad_message_later_in_a_stream_is_invalid_argument(
    channels: dict[str, grpc.Channel],
) -> None:
    """Stream messages are decoded as the handler reads them: a bad one after a good
    one is answered, then the stream ends with INVALID_ARGUMENT MALFORMED_REQUEST."""
    good = exchange_pb2.QueryStreamRequest(
        credit_code=CODE, purpose=common_pb2.PURPOSE_FINANCING, categories=["tax"]
    ).SerializeToString()
    call = channels["institution"].stream_stream(
        "/xinlian.v1.ExchangeService/QueryStream",
        response_deserializer=exchange_pb2.QueryStreamResponse.FromString,
    )
    responses = call(iter([good, b"\x0f"]), timeout=10)
    answered = []
    with pytest.raises(grpc.RpcError) as err:
        for response in responses:
            answered.append(response)
    assert [r.result.credit_code for r in answered] == [CODE]
    _assert_malformed(err.value)


def test_push_serves_good_batches_then_refuses_a_bad_message(
    identities: dict[str, Identity], channels: dict[str, grpc.Channel]
) -> None:
    """The hot path: a signed batch is decoded and stored as before; the message after
    it does not decode and ends the stream with INVALID_ARGUMENT, not INTERNAL."""
    tax = Catalog.default().categories["tax"]
    enterprise = generate_enterprises(1, seed=9)[0]
    records = [
        BatchRecord(r.credit_code, r.record_id, r.version, r.event_time, dict(r.fields))
        for r in generate_records(enterprise, tax, 2, 9)
    ]
    good = Pusher(identities["department"]).make_request("b-decode-1", "tax", records)
    call = channels["department"].stream_stream(
        "/xinlian.v1.ExchangeService/Push",
        response_deserializer=exchange_pb2.PushResponse.FromString,
    )
    answered = []
    with pytest.raises(grpc.RpcError) as err:
        for response in call(iter([good.SerializeToString(), b"\x0a\x64"]), timeout=30):
            answered.append(response)
    assert [(r.accepted, r.rejected) for r in answered] == [(len(records), 0)]
    _assert_malformed(err.value)


def test_malformed_request_is_logged_as_one_line(
    channels: dict[str, grpc.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    method = next(m for m in METHODS if m.path.endswith("/GetCatalog"))
    with caplog.at_level(logging.INFO):
        err = _call_raw(_caller(channels, method.path), method, b"\x0f")
        _assert_malformed(err)
        assert err is not None
        request_id = _trailers(err)["xinlian-request-id"]
    records = [r for r in caplog.records if r.name.startswith(("xinlian", "grpc"))]
    mentioning = [r for r in records if request_id in r.getMessage()]
    assert len(mentioning) == 1, [r.getMessage() for r in records]
    assert "INVALID_ARGUMENT" in mentioning[0].getMessage()
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    text = caplog.text
    assert "Traceback" not in text and "DecodeError" not in text
    assert "\n" not in mentioning[0].getMessage()


# -- out-of-range timestamps -------------------------------------------------------------

FAR = Timestamp(seconds=2**62)
LOW = Timestamp(seconds=-(2**62))
BAD_NANOS = Timestamp(seconds=1_700_000_000, nanos=-1)
LAST = Timestamp(seconds=253_402_300_799, nanos=999_999_999)  # 9999-12-31T23:59:59.999999999Z
FIRST = Timestamp(seconds=-62_135_596_800)  # 0001-01-01T00:00:00Z
SOON = Timestamp(seconds=1_700_000_000)


def _grant(**stamps: Timestamp) -> authorization_pb2.Grant:
    fields: dict[str, Any] = {"not_before": SOON, "not_after": SOON, "issued_at": SOON}
    fields.update(stamps)
    return authorization_pb2.Grant(
        grant_id="g-1",
        credit_code=CODE,
        grantee_node_id="institution-2",
        categories=["tax"],
        purpose=common_pb2.PURPOSE_FINANCING,
        **fields,
    )


def _timestamp_cases(
    high: Timestamp = FAR, low: Timestamp = LOW, odd: Timestamp = BAD_NANOS
) -> list[tuple[str, str, Any, str]]:
    """(method, caller kind, call(channel), the field the error names), sending the
    timestamps ``high``, ``low`` and ``odd`` (by default out of range)."""
    auth = authorization_pb2_grpc.AuthorizationServiceStub
    return [
        (
            "SubmitGrant",
            "city_platform",
            lambda ch: auth(ch).SubmitGrant(
                authorization_pb2.SubmitGrantRequest(grant=_grant(not_before=high)), timeout=10
            ),
            "grant.not_before.seconds",
        ),
        (
            "RenderAuthorizationLetter",
            "city_platform",
            lambda ch: auth(ch).RenderAuthorizationLetter(
                authorization_pb2.RenderAuthorizationLetterRequest(grant=_grant(not_after=odd)),
                timeout=10,
            ),
            "grant.not_after.nanos",
        ),
        (
            "RevokeGrant",
            "city_platform",
            lambda ch: auth(ch).RevokeGrant(
                authorization_pb2.RevokeGrantRequest(grant_id="g-1", revoked_at=high), timeout=10
            ),
            "revoked_at.seconds",
        ),
        (
            "RegisterEnterprise",
            "city_platform",
            lambda ch: auth(ch).RegisterEnterprise(
                authorization_pb2.RegisterEnterpriseRequest(
                    credit_code=CODE,
                    name="某某有限公司",
                    attestation=authorization_pb2.IdentityAttestation(
                        method="legal_rep_face_match",
                        evidence_ref="case-1",
                        verified_at=low,
                    ),
                ),
                timeout=10,
            ),
            "attestation.verified_at.seconds",
        ),
        (
            "RotateEnterpriseKey",
            "city_platform",
            lambda ch: auth(ch).RotateEnterpriseKey(
                authorization_pb2.RotateEnterpriseKeyRequest(credit_code=CODE, issued_at=odd),
                timeout=10,
            ),
            "issued_at.nanos",
        ),
        (
            "Query (self query)",
            "city_platform",
            lambda ch: exchange_pb2_grpc.ExchangeServiceStub(ch).Query(
                exchange_pb2.QueryRequest(
                    credit_code=CODE,
                    purpose=common_pb2.PURPOSE_FINANCING,
                    categories=["tax"],
                    self_query=exchange_pb2.SelfQueryProof(nonce="n-1", issued_at=high),
                ),
                timeout=10,
            ),
            "self_query.issued_at.seconds",
        ),
        (
            "SearchEntries",
            "officer",
            lambda ch: audit_pb2_grpc.AuditServiceStub(ch).SearchEntries(
                audit_pb2.SearchEntriesRequest(since=high), timeout=10
            ),
            "since.seconds",
        ),
    ]


@pytest.mark.parametrize(
    ("kind", "call", "field"),
    [pytest.param(k, c, f, id=name) for name, k, c, f in _timestamp_cases()],
)
def test_out_of_range_timestamp_is_invalid_argument(
    channels: dict[str, grpc.Channel], kind: str, call: Any, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(channels[kind])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    trailers = _trailers(err.value)
    assert trailers.get("xinlian-field") == field
    assert trailers.get("xinlian-request-id")


@pytest.mark.parametrize(
    ("kind", "call"),
    [pytest.param(k, c, id=name) for name, k, c, _ in _timestamp_cases(LAST, FIRST, LAST)],
)
def test_timestamps_at_the_ends_of_the_range_are_no_internal_error(
    channels: dict[str, grpc.Channel], kind: str, call: Any
) -> None:
    """In range, however far: refused for what they mean (or served), never INTERNAL."""
    try:
        call(channels[kind])
    except grpc.RpcError as err:
        assert err.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), err.details()
        assert _trailers(err).get("xinlian-reason")


# -- oversize identifiers ------------------------------------------------------------------

HUGE = "g" * 100_000


def _assert_short_refusal(err: grpc.RpcError) -> None:
    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (
        err.code(),
        (err.details() or "")[:200],
    )
    assert len(err.details() or "") < 300
    assert _trailers(err).get("xinlian-request-id")


def test_100_kb_grant_id_gets_a_proper_status(channels: dict[str, grpc.Channel]) -> None:
    stub = authorization_pb2_grpc.AuthorizationServiceStub(channels["admin"])
    with pytest.raises(grpc.RpcError) as err:
        stub.RevokeGrant(
            authorization_pb2.RevokeGrantRequest(grant_id=HUGE, reason="test"), timeout=10
        )
    _assert_short_refusal(err.value)


def test_100_kb_node_and_record_ids_get_a_proper_status(
    channels: dict[str, grpc.Channel],
) -> None:
    registry = registry_pb2_grpc.RegistryServiceStub(channels["admin"])
    calls = [
        lambda: registry.AdmitNode(registry_pb2.AdmitNodeRequest(node_id=HUGE), timeout=10),
        lambda: registry.SuspendNode(
            registry_pb2.SuspendNodeRequest(node_id=HUGE, reason="test"), timeout=10
        ),
        lambda: audit_pb2_grpc.AuditServiceStub(channels["officer"]).TraceRecord(
            audit_pb2.TraceRecordRequest(record_id=HUGE), timeout=10
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as err:
            call()
        _assert_short_refusal(err.value)


def test_unknown_grant_id_not_found_names_it(channels: dict[str, grpc.Channel]) -> None:
    stub = authorization_pb2_grpc.AuthorizationServiceStub(channels["admin"])
    with pytest.raises(grpc.RpcError) as err:
        stub.RevokeGrant(
            authorization_pb2.RevokeGrantRequest(grant_id="no-such-grant", reason="test"),
            timeout=10,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no-such-grant" in (err.value.details() or "")


# -- reflection ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_services_in_v1_and_v1alpha(
    channels: dict[str, grpc.Channel], version: str
) -> None:
    package = f"grpc.reflection.{version}"
    pool_file = v1_file_descriptor() if version == "v1" else reflection_pb2.DESCRIPTOR
    request_type = message_factory.GetMessageClass(
        pool_file.message_types_by_name["ServerReflectionRequest"]
    )
    response_type = message_factory.GetMessageClass(
        pool_file.message_types_by_name["ServerReflectionResponse"]
    )
    call = channels["institution"].stream_stream(
        f"/{package}.ServerReflection/ServerReflectionInfo",
        request_serializer=request_type.SerializeToString,
        response_deserializer=response_type.FromString,
    )
    requests = [
        request_type(list_services=""),
        request_type(file_containing_symbol=f"{package}.ServerReflection"),
    ]
    listed, described = list(call(iter(requests), timeout=10))
    names = {s.name for s in listed.list_services_response.service}
    assert {
        "xinlian.v1.ExchangeService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names
    protos = described.file_descriptor_response.file_descriptor_proto
    assert protos, described
    assert package.encode() in protos[0]


def test_every_method_of_the_access_table_is_tested() -> None:
    assert set(ACCESS) == {m.path for m in METHODS}
