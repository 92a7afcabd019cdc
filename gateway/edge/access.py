"""Which node kinds may call which RPC method. Every method of the contract has an entry;
tests/edge/test_access_table.py fails if a proto method lacks one."""

from __future__ import annotations

ALL_KINDS = frozenset({"city_platform", "department", "institution", "officer", "admin", "gateway"})
CONSUMERS = frozenset({"city_platform", "institution", "gateway"})

# Bootstrap methods are served without a client certificate (enrollment listener only).
BOOTSTRAP = "bootstrap"

ACCESS: dict[str, frozenset[str] | str] = {
    # registry
    "/xinlian.v1.RegistryService/Apply": BOOTSTRAP,
    "/xinlian.v1.RegistryService/Enroll": BOOTSTRAP,
    "/xinlian.v1.RegistryService/RenewCertificate": ALL_KINDS,
    "/xinlian.v1.RegistryService/GetSelf": ALL_KINDS,
    "/xinlian.v1.RegistryService/ListNodes": frozenset({"admin", "officer"}),
    "/xinlian.v1.RegistryService/AdmitNode": frozenset({"admin"}),
    "/xinlian.v1.RegistryService/SuspendNode": frozenset({"admin"}),
    "/xinlian.v1.RegistryService/ReadmitNode": frozenset({"admin"}),
    "/xinlian.v1.RegistryService/ExitNode": frozenset({"admin"}),
    # catalog
    "/xinlian.v1.CatalogService/GetCatalog": ALL_KINDS,
    # exchange
    "/xinlian.v1.ExchangeService/Push": frozenset({"department"}),
    "/xinlian.v1.ExchangeService/Query": CONSUMERS,
    "/xinlian.v1.ExchangeService/QueryBatch": CONSUMERS,
    "/xinlian.v1.ExchangeService/QueryStream": CONSUMERS,
    # authorization
    "/xinlian.v1.AuthorizationService/RegisterEnterprise": frozenset({"city_platform"}),
    "/xinlian.v1.AuthorizationService/RotateEnterpriseKey": frozenset({"city_platform"}),
    "/xinlian.v1.AuthorizationService/SubmitGrant": frozenset({"city_platform"}),
    "/xinlian.v1.AuthorizationService/RevokeGrant": frozenset({"city_platform", "admin"}),
    "/xinlian.v1.AuthorizationService/ListGrants": frozenset(
        {"city_platform", "institution", "admin", "officer"}
    ),
    "/xinlian.v1.AuthorizationService/RenderAuthorizationLetter": frozenset({"city_platform"}),
    # audit: proofs for everyone (a ledger anyone can verify), search for officers
    "/xinlian.v1.AuditService/GetCheckpoint": ALL_KINDS,
    "/xinlian.v1.AuditService/GetInclusionProof": ALL_KINDS,
    "/xinlian.v1.AuditService/GetConsistencyProof": ALL_KINDS,
    "/xinlian.v1.AuditService/SearchEntries": frozenset({"officer"}),
    "/xinlian.v1.AuditService/TraceRecord": frozenset({"officer"}),
    "/xinlian.v1.AuditService/TraceEnterprise": frozenset({"officer"}),
    "/xinlian.v1.AuditService/ExportLedger": frozenset({"officer"}),
    # witnessing between linked gateways (docs/witness.md): peers are gateway-kind nodes
    "/xinlian.v1.WitnessService/SubmitCosignature": frozenset({"gateway"}),
    "/xinlian.v1.WitnessService/GetCosignedCheckpoint": ALL_KINDS,
    "/xinlian.v1.WitnessService/GetWitnessed": frozenset({"gateway", "officer"}),
    "/xinlian.v1.WitnessService/GetHopEntry": frozenset({"gateway"}),
    "/xinlian.v1.WitnessService/TraceHops": frozenset({"officer"}),
    # correction notices: every consumer reads its own queue
    "/xinlian.v1.NoticeService/PullNotices": CONSUMERS,
    "/xinlian.v1.NoticeService/AckNotices": CONSUMERS,
    # subscriptions (docs/subscriptions.md): consumers subscribe; administrators and
    # officers list every subscription with its lag; an administrator may cancel one
    "/xinlian.v1.SubscriptionService/CreateSubscription": CONSUMERS,
    "/xinlian.v1.SubscriptionService/ListSubscriptions": CONSUMERS | {"admin", "officer"},
    "/xinlian.v1.SubscriptionService/CancelSubscription": CONSUMERS | {"admin"},
    "/xinlian.v1.SubscriptionService/Deliver": CONSUMERS,
    # credit repair: the source department or the credit center (an admin node) records;
    # a city platform files the enterprise's application
    "/xinlian.v1.RepairService/RecordRepair": frozenset({"department", "admin"}),
    "/xinlian.v1.RepairService/ApplyForRepair": frozenset({"city_platform"}),
    "/xinlian.v1.RepairService/RefuseRepairApplication": frozenset({"department", "admin"}),
    "/xinlian.v1.RepairService/ListRepairs": frozenset(
        {"department", "admin", "officer", "city_platform"}
    ),
    "/xinlian.v1.RepairService/ListRepairApplications": frozenset(
        {"department", "admin", "officer"}
    ),
    # objections (docs/objections.md): the flow narrows listing and reading further
    "/xinlian.v1.ObjectionService/FileObjection": frozenset({"city_platform"}),
    "/xinlian.v1.ObjectionService/ListObjections": frozenset(
        {"city_platform", "department", "admin", "officer"}
    ),
    "/xinlian.v1.ObjectionService/GetObjection": frozenset(
        {"city_platform", "department", "admin", "officer"}
    ),
    "/xinlian.v1.ObjectionService/AnswerObjection": frozenset({"department"}),
    "/xinlian.v1.ObjectionService/FreezeEnterprise": frozenset({"admin"}),
    # a department withdraws records it pushed (docs/agent.md)
    "/xinlian.v1.WithdrawalService/WithdrawRecords": frozenset({"department"}),
    # monthly statistics (docs/report.md): officers and administrators
    "/xinlian.v1.StatisticsService/GetStatistics": frozenset({"officer", "admin"}),
    # federation (docs/federation.md): gateway nodes only; the directory also for officers
    "/xinlian.v1.FederationService/Join": frozenset({"gateway"}),
    "/xinlian.v1.FederationService/GetDirectory": frozenset({"gateway", "admin", "officer"}),
    "/xinlian.v1.FederationService/Relay": frozenset({"gateway"}),
    "/xinlian.v1.FederationService/ForwardQuery": frozenset({"gateway"}),
    # standard services
    "/grpc.health.v1.Health/Check": ALL_KINDS,
    "/grpc.health.v1.Health/Watch": ALL_KINDS,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": ALL_KINDS,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": ALL_KINDS,
}
