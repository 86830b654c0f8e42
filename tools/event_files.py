"""Writes events/*.json, the files `sam local invoke <Function> -e events/<file>` and `make invoke` take,
from the one API Gateway event factory. `python -m tools.event_files` regenerates them;
tests/integration/test_event_files.py fails when a committed file differs from what this produces."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local_stack.apigw import claims_for, rest_event
from local_stack.template import ROOT

EVENTS_DIR = ROOT / "events"
# The moment the files describe (their requests' times and their events' createdAt are just before it):
# a test runs them on a clock set to it.
INSTANT = "2026-11-25T09:00:00Z"
WORKSPACE = "demo"
ADMIN = claims_for(WORKSPACE, ["admin"])
VIEWER = claims_for(WORKSPACE, ["viewer"], username="viewer@example.com")
MERGE_PATCH = "application/merge-patch+json"
STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/cost-metrics-local-events/stream/2026-11-25T00:00:00.000"
)


def _fixed(event: dict[str, Any]) -> dict[str, Any]:
    """Stable ids and times, so that regenerating gives the same bytes."""
    context = event["requestContext"]
    context.update(
        requestId="c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        extendedRequestId="local-request",
        requestTime="25/Nov/2026:09:00:00 +0000",
        requestTimeEpoch=1795597200000,
    )
    return event


def _api(method: str, path: str, resource: str, claims: dict[str, str] | None = ADMIN, **kwargs: Any) -> Any:
    return lambda: _fixed(rest_event(method, path, resource=resource, claims=claims, **kwargs))


def _stream_record(
    seq: int,
    event_id: str,
    event_type: str,
    details: dict[str, Any],
    name: str = "INSERT",
    created: str = "2026-11-20T09:00:00.000000Z",
) -> dict[str, Any]:
    image = {
        "pk": {"S": f"ws-sample#{event_id}"},
        "workspaceId": {"S": "ws-sample"},
        "id": {"S": event_id},
        "agentId": {"S": "sample-agent"},
        "eventType": {"S": event_type},
        "createdAt": {"S": created},
        "details": {"S": json.dumps(details, separators=(",", ":"), sort_keys=True)},
        "ingestedAt": {"S": created},
        "expiresAt": {"N": "1830000000"},
    }
    record: dict[str, Any] = {
        "eventID": f"{seq:032x}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795597200,
            "Keys": {"pk": image["pk"]},
            "SequenceNumber": str(1100000000017454423000 + seq),
            "SizeBytes": 300,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM_ARN,
    }
    if name == "REMOVE":
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    else:
        record["dynamodb"]["NewImage"] = image
    return record


def _stream_batch() -> dict[str, Any]:
    return {
        "Records": [
            _stream_record(
                1,
                "sample-1",
                "model_invocation",
                {
                    "model": "claude-haiku-3.5",
                    "inputTokens": 12000,
                    "outputTokens": 800,
                    "cacheReadTokens": 30000,
                    "durationMs": 2100,
                },
            ),
            _stream_record(2, "sample-2", "task_completed", {"taskType": "summarization"}),
            _stream_record(
                3, "sample-3", "tool_call", {"tool": "web_search", "success": True, "durationMs": 640}
            ),
            _stream_record(4, "sample-0", "session_end", {}, name="REMOVE"),
        ]
    }


def _schedule() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-11-25T09:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/cost-metrics-budget-alerts"],
        "detail": "{}",
    }


def _custom_resource() -> dict[str, Any]:
    return {
        "RequestType": "Create",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cost-metrics-CatalogSeederFunction",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/cost-metrics/00000000",
        "RequestId": "4d3c6c4e-5e4b-4f3a-9a5e-000000000001",
        "LogicalResourceId": "GlobalPricingCatalog",
        "ResourceType": "Custom::PricingCatalog",
        "ResourceProperties": {"ServiceToken": "…", "CatalogVersion": "2026-11-25"},
    }


SAMPLE_EVENTS = {
    "events": [
        {
            "id": "sample-evt-1",
            "agentId": "nova",
            "eventType": "model_invocation",
            "createdAt": "2026-11-25T08:59:00Z",
            "details": {
                "model": "claude-haiku-3.5",
                "inputTokens": 5200,
                "outputTokens": 640,
                "cacheReadTokens": 12000,
                "durationMs": 1840,
            },
        },
        {
            "id": "sample-evt-2",
            "agentId": "nova",
            "eventType": "task_completed",
            "createdAt": "2026-11-25T08:59:30Z",
            "details": {"taskType": "research"},
        },
    ]
}

AGENT = {
    "name": "Nova",
    "status": "online",
    "category": "Research",
    "department": "Strategy",
    "role_title": "Research Analyst",
    "model_provider": "anthropic",
    "model_name": "claude-haiku-3.5",
    "human_equivalent_salary": 75000,
    "estimated_hours_saved": 80,
    "cost_budget_monthly": 100,
}

# A well-formed ingest key of the demo workspace, for the authorizer's event file (never a real one: the
# test that runs the file stores its record first).
DEMO_INGEST_KEY = "cmk_demo.0123456789abcdef." + "K" * 43


def _authorizer_request() -> dict[str, Any]:
    """API Gateway's REQUEST authorizer event for POST /api/activity with an ingest key."""
    event = _fixed(
        rest_event(
            "POST",
            "/api/activity",
            headers={"Authorization": f"Bearer {DEMO_INGEST_KEY}", "Content-Type": "application/json"},
        )
    )
    event.pop("body")
    event.pop("isBase64Encoded")
    event["requestContext"].pop("authorizer")
    event.update(
        type="REQUEST",
        methodArn="arn:aws:execute-api:us-east-1:123456789012:localapi01/local/POST/api/activity",
    )
    return event


# file name -> (function logical id, what it shows, builder)
FILES: dict[str, tuple[str, str, Callable[[], dict[str, Any]]]] = {
    "health-get.json": (
        "HealthFunction",
        "GET /api/health, no token",
        _api("GET", "/api/health", "/api/health", claims=None),
    ),
    "activity-post.json": (
        "ActivityFunction",
        "POST /api/activity with two events",
        _api("POST", "/api/activity", "/api/activity", body=SAMPLE_EVENTS),
    ),
    "activity-get.json": (
        "ActivityFunction",
        "GET /api/activity?eventType=tool_call&limit=50",
        _api(
            "GET",
            "/api/activity",
            "/api/activity",
            claims=VIEWER,
            query={"eventType": "tool_call", "limit": "50"},
        ),
    ),
    "activity-feed.json": (
        "ActivityFunction",
        "GET /api/activity/feed?since=2026-11-24T00:00:00Z (SIEM polling)",
        _api(
            "GET",
            "/api/activity/feed",
            "/api/activity/feed",
            claims=VIEWER,
            query={"since": "2026-11-24T00:00:00Z", "limit": "200"},
        ),
    ),
    "agents-put.json": (
        "AgentsFunction",
        "PUT /api/agents/nova",
        _api(
            "PUT",
            "/api/agents/nova",
            "/api/agents/{agentId}",
            path_parameters={"agentId": "nova"},
            body=AGENT,
        ),
    ),
    "agents-patch.json": (
        "AgentsFunction",
        "PATCH /api/agents/nova (only its budget and status, a JSON Merge Patch)",
        _api(
            "PATCH",
            "/api/agents/nova",
            "/api/agents/{agentId}",
            path_parameters={"agentId": "nova"},
            body={"cost_budget_monthly": 150, "status": "paused"},
            headers={"Content-Type": MERGE_PATCH},
        ),
    ),
    "agents-list.json": (
        "AgentsFunction",
        "GET /api/agents as a viewer",
        _api("GET", "/api/agents", "/api/agents", claims=VIEWER),
    ),
    "agents-get.json": (
        "AgentsFunction",
        "GET /api/agents/nova",
        _api("GET", "/api/agents/nova", "/api/agents/{agentId}", path_parameters={"agentId": "nova"}),
    ),
    "ingest-keys-post.json": (
        "AgentsFunction",
        "POST /api/ingest-keys: a new key, shown once",
        _api("POST", "/api/ingest-keys", "/api/ingest-keys", body={"name": "research fleet"}),
    ),
    "ingest-keys-list.json": (
        "AgentsFunction",
        "GET /api/ingest-keys",
        _api("GET", "/api/ingest-keys", "/api/ingest-keys"),
    ),
    "ingest-authorizer-request.json": (
        "IngestAuthorizerFunction",
        "the Lambda REQUEST authorizer's event: POST /api/activity with an ingest key",
        _authorizer_request,
    ),
    "cost-analysis-summary.json": (
        "CostAnalysisFunction",
        "GET /api/cost-analysis/summary",
        _api("GET", "/api/cost-analysis/summary", "/api/cost-analysis/summary"),
    ),
    "cost-analysis-summary-month.json": (
        "CostAnalysisFunction",
        "GET /api/cost-analysis/summary?month=2026-10",
        _api("GET", "/api/cost-analysis/summary", "/api/cost-analysis/summary", query={"month": "2026-10"}),
    ),
    **{
        f"cost-analysis-{name}.json": (
            "CostAnalysisFunction",
            f"GET /api/cost-analysis/{name}",
            _api("GET", f"/api/cost-analysis/{name}", f"/api/cost-analysis/{name}"),
        )
        for name in ("by-provider", "by-model", "agents", "recommendations", "budget-alerts")
    },
    **{
        f"workforce-{name}.json": (
            "WorkforceFunction",
            f"GET /api/agents/workforce/{name}" + ((query and f"?months={query['months']}") or ""),
            _api("GET", f"/api/agents/workforce/{name}", f"/api/agents/workforce/{name}", query=query),
        )
        for name, query in (("summary", None), ("agents", None), ("trends", {"months": "12"}))
    },
    "cost-analysis-agents-csv.json": (
        "CostAnalysisFunction",
        "GET /api/cost-analysis/agents as CSV (Accept: text/csv)",
        _api("GET", "/api/cost-analysis/agents", "/api/cost-analysis/agents", headers={"Accept": "text/csv"}),
    ),
    "cost-analysis-pricing.json": (
        "CostAnalysisFunction",
        "GET /api/cost-analysis/pricing",
        _api("GET", "/api/cost-analysis/pricing", "/api/cost-analysis/pricing"),
    ),
    "cost-analysis-pricing-put.json": (
        "CostAnalysisFunction",
        "PUT /api/cost-analysis/pricing/gpt-5.4 (a workspace price)",
        _api(
            "PUT",
            "/api/cost-analysis/pricing/gpt-5.4",
            "/api/cost-analysis/pricing/{modelId}",
            path_parameters={"modelId": "gpt-5.4"},
            body={
                "provider": "openai",
                "category": "standard",
                "inputPricePerMillion": 2.25,
                "outputPricePerMillion": 13.5,
                "cacheReadPricePerMillion": 0.225,
                "cacheWritePricePerMillion": None,
            },
        ),
    ),
    "cost-analysis-pricing-patch.json": (
        "CostAnalysisFunction",
        "PATCH /api/cost-analysis/pricing/gpt-5.4 (only its input price, a JSON Merge Patch)",
        _api(
            "PATCH",
            "/api/cost-analysis/pricing/gpt-5.4",
            "/api/cost-analysis/pricing/{modelId}",
            path_parameters={"modelId": "gpt-5.4"},
            body={"inputPricePerMillion": 2.25},
            headers={"Content-Type": MERGE_PATCH},
        ),
    ),
    "cost-analysis-budget-alerts-settings-put.json": (
        "CostAnalysisFunction",
        "PUT /api/cost-analysis/budget-alerts/settings",
        _api(
            "PUT",
            "/api/cost-analysis/budget-alerts/settings",
            "/api/cost-analysis/budget-alerts/settings",
            body={"thresholds": [50, 80, 100], "forecast": True},
        ),
    ),
    "cost-analysis-budget-alerts-settings-patch.json": (
        "CostAnalysisFunction",
        "PATCH /api/cost-analysis/budget-alerts/settings (only the forecast alert)",
        _api(
            "PATCH",
            "/api/cost-analysis/budget-alerts/settings",
            "/api/cost-analysis/budget-alerts/settings",
            body={"forecast": False},
            headers={"Content-Type": MERGE_PATCH},
        ),
    ),
    "docs-get.json": (
        "DocsFunction",
        "GET /api/docs (Swagger UI), no token",
        _api("GET", "/api/docs", "/api/docs", claims=None, headers={"Accept": "text/html"}),
    ),
    "docs-openapi.json": (
        "DocsFunction",
        "GET /api/openapi.json (the OpenAPI document)",
        _api("GET", "/api/openapi.json", "/api/openapi.json", claims=VIEWER),
    ),
    "console-get.json": (
        "ConsoleFunction",
        "GET /console (the web console's page), no token",
        _api("GET", "/console", "/console", claims=None, headers={"Accept": "text/html"}),
    ),
    "console-asset.json": (
        "ConsoleFunction",
        "GET /console/console.js (a file of the console), no token",
        _api(
            "GET",
            "/console/console.js",
            "/console/{asset}",
            claims=None,
            path_parameters={"asset": "console.js"},
            headers={"Accept": "*/*"},
        ),
    ),
    "rollup-stream-batch.json": (
        "RollupFunction",
        "a stream batch: 3 INSERTs of workspace ws-sample, 1 TTL expiry",
        _stream_batch,
    ),
    "budget-alerts-schedule.json": ("BudgetAlertFunction", "the EventBridge Scheduler event", _schedule),
    "catalog-seeder-create.json": (
        "CatalogSeederFunction",
        "a CloudFormation Create, without ResponseURL so it can run locally",
        _custom_resource,
    ),
}


def render(name: str) -> str:
    return json.dumps(FILES[name][2](), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    EVENTS_DIR.mkdir(exist_ok=True)
    for name in FILES:
        (EVENTS_DIR / name).write_text(render(name))
    print(f"wrote {len(FILES)} files to {EVENTS_DIR}")


if __name__ == "__main__":
    main()
