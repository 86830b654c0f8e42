"""template.yaml's security posture: least-privilege IAM per function (the exact permissions, so any new one
fails here until it is reviewed and listed), encryption at rest, logs with retention, tracing, throttling,
access logs, prod protections, and checkov suppressions that each carry a reason."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_stack.template import Context, function_properties, load, resources

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = resources("AWS::Serverless::Function")

# The exact permissions of each function's role, as (action, resource) with the resource named by its
# logical id. A function absent from this table must have no permissions of its own (health, docs,
# console).
EXPECTED_PERMISSIONS: dict[str, set[tuple[str, str]]] = {
    "ActivityFunction": {
        ("dynamodb:PutItem", "EventsTable"),  # ingestion: conditional put per event (idempotent on id)
        ("dynamodb:GetItem", "EventsTable"),
        ("dynamodb:BatchGetItem", "EventsTable"),
        ("dynamodb:Query", "EventsTable/index/*"),  # the activity log's keys-only indexes
        ("dynamodb:Query", "RollupsTable"),  # per-day and per-hour event counters
        ("dynamodb:BatchGetItem", "AgentsTable"),
        ("dynamodb:Query", "AgentsTable"),
        ("secretsmanager:GetSecretValue", "CursorSecret"),  # the cursor signing key
    },
    "AgentsFunction": {
        ("dynamodb:GetItem", "AgentsTable"),
        ("dynamodb:PutItem", "AgentsTable"),  # PATCH: a transaction of conditional Puts
        ("dynamodb:BatchWriteItem", "AgentsTable"),  # the agent and its history item
        ("dynamodb:Query", "AgentsTable"),
        ("dynamodb:PutItem", "IngestKeysTable"),  # POST /api/ingest-keys: the key's hash, never the key
        ("dynamodb:GetItem", "IngestKeysTable"),
        ("dynamodb:Query", "IngestKeysTable"),  # GET /api/ingest-keys
        ("dynamodb:UpdateItem", "IngestKeysTable"),  # DELETE /api/ingest-keys/{keyId}: revokedAt
    },
    "IngestAuthorizerFunction": {
        ("dynamodb:GetItem", "IngestKeysTable"),  # the key's record, consistent
        ("dynamodb:UpdateItem", "IngestKeysTable"),  # lastUsedAt, once per cached answer
    },
    "CostAnalysisFunction": {
        ("dynamodb:Query", "RollupsTable"),
        ("dynamodb:Query", "AgentsTable"),
        ("dynamodb:GetItem", "AgentsTable"),
        ("dynamodb:PutItem", "AgentsTable"),  # PUT and PATCH budget-alerts/settings (conditional)
        ("dynamodb:Query", "PricingTable"),
        ("dynamodb:PutItem", "PricingTable"),  # PUT and PATCH pricing/{modelId}
    },
    "WorkforceFunction": {
        ("dynamodb:Query", "RollupsTable"),
        ("dynamodb:Query", "AgentsTable"),
    },
    "RollupFunction": {
        ("dynamodb:Query", "PricingTable"),
        ("dynamodb:PutItem", "RollupsTable"),  # applied-event markers, in the counters' transaction
        ("dynamodb:UpdateItem", "RollupsTable"),  # the counters (ADD)
        ("sqs:SendMessage", "RollupDeadLetterQueue"),  # the stream mapping's on-failure destination
    },
    "BudgetAlertFunction": {
        ("dynamodb:Scan", "AgentsTable"),  # the agents with a budget, across workspaces (scheduled)
        ("dynamodb:Query", "RollupsTable"),
        ("dynamodb:PutItem", "RollupsTable"),  # the sent-notice records (N#... sort keys), conditional
        ("sns:Publish", "BudgetAlertTopic"),
        ("kms:GenerateDataKey", "EncryptionKey"),  # the topic is encrypted with the stack's key
        ("kms:Decrypt", "EncryptionKey"),
    },
    "CatalogSeederFunction": {
        ("dynamodb:BatchWriteItem", "PricingTable"),
    },
}

# Actions AWS only grants on Resource "*", each with why. None is used today: SAM's Tracing adds the
# X-Ray write policy itself, and EMF metrics go through the log stream, not PutMetricData.
STAR_RESOURCE_ALLOWED = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
    "cloudwatch:PutMetricData": "no resource-level permissions (a cloudwatch:namespace condition narrows it)",
}

WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}

# Which functions may write which table. The budget-alert function's write to the rollups table is its
# sent-notice record only (a PutItem, never UpdateItem): counters are changed by the rollup function alone.
TABLE_WRITERS = {
    "EventsTable": {"ActivityFunction"},
    "RollupsTable": {"RollupFunction", "BudgetAlertFunction"},
    "AgentsTable": {"AgentsFunction", "CostAnalysisFunction"},
    "PricingTable": {"CostAnalysisFunction", "CatalogSeederFunction"},
    "IngestKeysTable": {"AgentsFunction", "IngestAuthorizerFunction"},
}

# SAM policy templates that may appear, each scoped to one table through its TableName.
TABLE_POLICY_TEMPLATES = {
    "DynamoDBReadPolicy",
    "DynamoDBWritePolicy",
    "DynamoDBCrudPolicy",
    "DynamoDBStreamReadPolicy",
}


def _resource_name(resource: Any) -> str:
    """The logical id a policy resource names: GetAtt X.Arn -> X, Ref X -> X, Sub "${X.Arn}/index/*"
    -> X/index/*, "*" -> *."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    if isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
        return re.sub(r"\$\{(\w+)(\.Arn)?\}", r"\1", resource["Fn::Sub"])
    raise AssertionError(f"a policy resource this test cannot read: {resource!r}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(function: str) -> list[dict[str, Any]]:
    """The inline statements of a function's Policies (policy templates are checked on their own)."""
    found = []
    for policy in FUNCTIONS[function]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(_as_list(policy["Statement"]))
    return found


def permissions(function: str) -> set[tuple[str, str]]:
    granted = set()
    for statement in statements(function):
        assert statement.get("Effect") == "Allow", (function, statement)
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                granted.add((action, _resource_name(resource)))
    return granted


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_has_exactly_its_reviewed_permissions(function: str) -> None:
    assert permissions(function) == EXPECTED_PERMISSIONS.get(function, set())


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_policies_are_inline_statements_or_single_table_templates_never_managed_policies(
    function: str,
) -> None:
    for policy in FUNCTIONS[function]["Properties"].get("Policies", []):
        assert isinstance(policy, dict), f"{function}: managed policy {policy!r} grants more than it needs"
        if "Statement" in policy:
            continue
        ((template, params),) = policy.items()
        assert template in TABLE_POLICY_TEMPLATES, f"{function}: unreviewed policy template {template}"
        table = params["TableName"]["Ref"]
        assert resources()[table]["Type"] == "AWS::DynamoDB::Table", (function, template)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_wildcard_actions_no_not_action_and_star_resources_only_where_aws_requires(function: str) -> None:
    for statement in statements(function):
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), (function, statement)
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{function}: wildcard action {action}"
    star = {action for action, resource in permissions(function) if resource == "*"}
    assert star <= set(STAR_RESOURCE_ALLOWED), (
        f"{function}: Resource * for {star - set(STAR_RESOURCE_ALLOWED)}"
    )


def test_only_the_functions_that_write_a_table_may_write_it() -> None:
    writers: dict[str, set[str]] = {table: set() for table in TABLE_WRITERS}
    for function in FUNCTIONS:
        for action, resource in permissions(function):
            if action in WRITE_ACTIONS:
                writers.setdefault(resource, set()).add(function)
    assert writers == TABLE_WRITERS


def test_rollup_counters_are_updated_by_the_rollup_function_alone() -> None:
    updaters = {
        function
        for function in FUNCTIONS
        for action, resource in permissions(function)
        if resource == "RollupsTable" and action in WRITE_ACTIONS - {"dynamodb:PutItem"}
    }
    assert updaters == {"RollupFunction"}


def test_read_only_functions_have_no_write_of_any_kind() -> None:
    read_only = {"HealthFunction", "WorkforceFunction", "DocsFunction", "ConsoleFunction"} & set(FUNCTIONS)
    verbs = ("Put", "Update", "Delete", "Write", "Publish", "Send", "Create")
    for function in read_only:
        writes = {a for a, _ in permissions(function) if any(v in a.split(":")[1] for v in verbs)}
        assert not writes, (function, writes)


def test_only_the_alert_function_publishes_and_only_the_activity_function_reads_the_secret() -> None:
    publishers = {f for f in FUNCTIONS for action, _ in permissions(f) if action.startswith("sns:")}
    assert publishers == {"BudgetAlertFunction"}
    secret_readers = {f: {p for p in permissions(f) if p[0].startswith("secretsmanager:")} for f in FUNCTIONS}
    assert {f: p for f, p in secret_readers.items() if p} == {
        "ActivityFunction": {("secretsmanager:GetSecretValue", "CursorSecret")}
    }


def test_no_api_function_may_scan() -> None:
    api_functions = {
        name
        for name, function in FUNCTIONS.items()
        if any(e["Type"] == "Api" for e in function["Properties"].get("Events", {}).values())
    }
    scanners = {f for f in FUNCTIONS for action, _ in permissions(f) if action == "dynamodb:Scan"}
    assert api_functions
    assert not scanners & api_functions


# --- Logs, tracing, throttling, access logs --------------------------------------------------------


def resolved(value: Any, stage: str) -> Any:
    return Context(stage=stage).resolve(value)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_logs_to_its_own_encrypted_group_kept_365_days_in_prod(function: str) -> None:
    logging = function_properties(function)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == {"Fn::If": ["IsProd", "INFO", "DEBUG"]}
    group = resources("AWS::Logs::LogGroup")[logging["LogGroup"]["Ref"]]["Properties"]
    assert resolved(group["RetentionInDays"], "prod") == 365
    assert resolved(group["RetentionInDays"], "dev") == load()["Parameters"]["LogRetentionDays"]["Default"]
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}


def test_tracing_is_active_on_every_function_and_the_api() -> None:
    assert load()["Globals"]["Function"]["Tracing"] == "Active"
    assert not [f for f, r in FUNCTIONS.items() if r["Properties"].get("Tracing", "Active") != "Active"]
    (api,) = resources("AWS::Serverless::Api").values()
    assert api["Properties"]["TracingEnabled"] is True


def test_the_api_is_throttled_and_more_strictly_in_prod() -> None:
    (api,) = resources("AWS::Serverless::Api").values()
    (settings,) = api["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        prod, dev = resolved(settings[key], "prod"), resolved(settings[key], "dev")
        assert 0 < prod < dev, key


ACCESS_LOG_FIELDS = {
    "requestId",
    "ip",
    "caller",
    "user",
    "workspace",
    "requestTime",
    "httpMethod",
    "resourcePath",
    "status",
    "protocol",
    "responseLength",
    "integrationLatency",
}


def test_api_access_logs_are_json_lines_with_the_caller_and_request_to_a_kept_encrypted_group() -> None:
    (api,) = resources("AWS::Serverless::Api").values()
    setting = api["Properties"]["AccessLogSetting"]
    group = resources("AWS::Logs::LogGroup")[setting["DestinationArn"]["Fn::GetAtt"][0]]["Properties"]
    assert resolved(group["RetentionInDays"], "prod") == 365
    assert "KmsKeyId" in group
    line = setting["Format"]
    assert "\n" not in line
    # Each $context variable becomes a value, as API Gateway writes it; the line must then be JSON.
    sample = json.loads(re.sub(r'"?\$context\.[\w.]+(\[\'[\w:]+\'\])?"?', '"x"', line))
    assert set(sample) >= ACCESS_LOG_FIELDS
    assert "$context.requestId" in line
    assert "$context.authorizer.claims.sub" in line
    assert "$context.authorizer.claims['custom:workspace_id']" in line


# --- Encryption at rest and prod protections --------------------------------------------------------


@pytest.mark.parametrize("table", sorted(resources("AWS::DynamoDB::Table")))
def test_every_table_is_encrypted_backed_up_retained_and_protected_in_prod(table: str) -> None:
    resource = resources("AWS::DynamoDB::Table")[table]
    props = resource["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert resolved(props["DeletionProtectionEnabled"], "prod") is True
    assert resolved(props["DeletionProtectionEnabled"], "dev") is False
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_user_pool_is_deletion_protected_in_prod() -> None:
    (pool,) = resources("AWS::Cognito::UserPool").values()
    assert resolved(pool["Properties"]["DeletionProtection"], "prod") == "ACTIVE"


def test_topics_use_the_stack_key_that_lets_alarms_publish_and_queues_are_encrypted() -> None:
    topics = resources("AWS::SNS::Topic")
    assert topics
    for name, topic in topics.items():
        # Not alias/aws/sns: CloudWatch alarms cannot publish to a topic under that key.
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["EncryptionKey", "Arn"]}, name
    for name, queue in resources("AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name
    for name, secret in resources("AWS::SecretsManager::Secret").items():
        assert "SecretString" not in secret["Properties"], f"{name}: generate secrets, never write them"


def test_the_stack_key_rotates_and_grants_only_cloudwatch_alarms_and_the_stack_s_log_groups() -> None:
    (key,) = resources("AWS::KMS::Key").values()
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    by_sid = {s["Sid"]: s for s in props["KeyPolicy"]["Statement"]}
    for statement in by_sid.values():
        assert statement["Principal"] not in ("*", {"AWS": "*"}), statement
    root = by_sid["AccountAdministersTheKeyThroughIam"]["Principal"]["AWS"]
    assert root == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    alarms = by_sid["CloudWatchAlarmsPublishToTheTopics"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    logs = by_sid["CloudWatchLogsEncryptTheStackLogGroups"]
    scope = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert scope.endswith(":log-group:/${AWS::StackName}/*")
    for group in resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/${AWS::StackName}/")


def test_prod_deploys_with_stage_prod_and_a_year_of_logs() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    assert "Stage=prod" in overrides.split()
    assert "LogRetentionDays=365" in overrides.split()


# --- checkov suppressions ---------------------------------------------------------------------------

# The checks skipped for this stack (.checkov.yaml), each reviewed; anything else that fails is fixed.
REVIEWED_SKIPS = {
    "CKV_AWS_115",  # Lambda reserved concurrency
    "CKV_AWS_116",  # Lambda dead-letter queue
    "CKV_AWS_117",  # Lambda in a VPC
    "CKV_AWS_173",  # Lambda environment with a customer managed key
    "CKV_AWS_119",  # DynamoDB with a customer managed key
    "CKV_AWS_149",  # Secrets Manager with a customer managed key
    "CKV_AWS_120",  # API Gateway stage cache
    "CKV_AWS_27",  # SQS with a KMS key
}


def test_checkov_skips_only_reviewed_checks_each_with_its_reason_in_one_file() -> None:
    text = (ROOT / ".checkov.yaml").read_text()
    config = yaml.safe_load(text)
    assert set(config["skip-check"]) == REVIEWED_SKIPS
    reasons: dict[str, str] = {}
    comment: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
        elif stripped.startswith("- CKV_"):
            reasons[stripped[2:]] = " ".join(comment)
            comment = []
        else:
            comment = []
    for check in REVIEWED_SKIPS:
        assert len(reasons.get(check, "")) >= 100, f"{check} needs its reason in a comment above it"
    # and none is hidden in the template
    assert all("checkov" not in r.get("Metadata", {}) for r in resources().values())


# --- Ingest keys: the Lambda authorizer ---------------------------------------------------------------


def test_keys_reach_only_the_ingest_routes_through_an_authorizer_cached_at_most_five_minutes() -> None:
    from costmetrics.ingest_keys import INGEST_ROUTES
    from local_stack.template import lambda_authorizers, routes

    (authorizer,) = lambda_authorizers().values()
    assert authorizer.function == "IngestAuthorizerFunction"
    assert authorizer.headers == ("Authorization",)
    # The bound on how long a revoked key may go on ingesting, stated in the README.
    assert 0 < authorizer.ttl_seconds <= 300
    behind = {(r.method, r.path) for r in routes() if r.authorizer == authorizer.name}
    assert behind == set(INGEST_ROUTES)
    others = {r.authorizer for r in routes() if (r.method, r.path) not in behind and r.authorized}
    assert others == {"CognitoAuthorizer"}  # a key is not a JWT: every other route answers it 401
