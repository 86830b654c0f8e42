"""template.yaml's operations side: the dashboard shows the API, every route, every function, ingestion,
rollups, the DLQ, alerts and the tables, and reads only metrics the code emits; every alarm notifies the
operations topic; the dashboard's URL is an output."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import load, resources

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(resources("AWS::Serverless::Function"))
TABLES = sorted(resources("AWS::DynamoDB::Table"))


def dashboard() -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard body as JSON (its ${...} left as text) and the variables of its Fn::Sub."""
    (resource,) = resources("AWS::CloudWatch::Dashboard").values()
    sub = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
    body: dict[str, Any] = json.loads(text)
    return body, variables


def metric_rows(body: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """(widget title, metric row) for every metric row of every metric widget."""
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            yield widget["properties"]["title"], row


def plain(row: list[Any]) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """A ["Namespace", "Metric", "Dim", "Value", ..., {options}] row as (namespace, metric, dims, options)."""
    options = row[-1] if isinstance(row[-1], dict) else {}
    fields = row[:-1] if options else row
    namespace, metric, *pairs = fields
    return namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options


def rows_of(body: dict[str, Any], namespace: str, metric: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
    found = []
    for _, row in metric_rows(body):
        if isinstance(row[0], dict):
            continue
        ns, name, dims, options = plain(row)
        if (ns, name) == (namespace, metric):
            found.append((dims, options))
    return found


def searched_metrics(body: dict[str, Any]) -> dict[str, set[str]]:
    """CostMetrics metric name -> the statistics SEARCH expressions chart it with (the per-route widgets)."""
    found: dict[str, set[str]] = {}
    for _, row in metric_rows(body):
        if isinstance(row[0], dict) and "SEARCH(" in row[0]["expression"]:
            expression = row[0]["expression"]
            assert "{CostMetrics,route,service}" in expression, expression
            assert 'service=\\"${AWS::StackName}\\"' in json.dumps(expression), expression
            name = re.search(r'MetricName="(\w+)"', expression)
            stat = re.search(r"', '(\w+)', \d+\)$", expression)
            assert name, expression
            assert stat, expression
            found.setdefault(name.group(1), set()).add(stat.group(1))
    return found


def function_name_ref(function: str, variables: dict[str, Any]) -> set[str]:
    """How the dashboard may name a function: ${Function}, or a Sub variable that resolves to its Ref."""
    names = {"${" + function + "}"}
    for variable, value in variables.items():
        if {"Ref": function} in (
            value.get("Fn::If", [None, None, None])[1:] if isinstance(value, dict) else []
        ):
            names.add("${" + variable + "}")
    return names


def emitted_metric_names() -> set[str]:
    """Metric names the code adds: add_metric(name="X"), and ("X", value) pairs looped into add_metric."""
    names: set[str] = set()
    sources = [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/common/costmetrics/*.py")]
    for source in sources:
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(str(keyword.value.value))
            if isinstance(node, ast.For) and "add_metric" in ast.unparse(node):
                for element in ast.walk(node.iter):
                    if (
                        isinstance(element, ast.Tuple)
                        and len(element.elts) == 2
                        and isinstance(element.elts[0], ast.Constant)
                    ):
                        names.add(str(element.elts[0].value))
    return names


def test_the_code_emits_the_metrics_operations_rely_on() -> None:
    assert {
        "Requests",
        "Latency",
        "ClientErrors",
        "ServerErrors",
        "EventsIngested",
        "DuplicateEvents",
        "RejectedEvents",
        "BatchSize",
        "RollupWrites",
        "RollupTransactions",
        "BatchItemFailures",
        "AlertsSent",
        "AlertPublishFailures",
    } <= emitted_metric_names()


def test_the_dashboard_charts_only_metrics_the_code_emits() -> None:
    body, _ = dashboard()
    charted = set(searched_metrics(body))
    for _, row in metric_rows(body):
        if not isinstance(row[0], dict) and row[0] == "CostMetrics":
            charted.add(row[1])
    assert charted
    assert charted <= emitted_metric_names(), charted - emitted_metric_names()


def test_the_dashboard_shows_the_api_requests_errors_and_latency_percentiles() -> None:
    body, _ = dashboard()
    api_dims = {"ApiName": "${AWS::StackName}-api", "Stage": "${Stage}"}
    for metric in ("Count", "4XXError", "5XXError"):
        shown = [dims for dims, _ in rows_of(body, "AWS/ApiGateway", metric)]
        assert shown, metric
        assert all(dims == api_dims for dims in shown), metric
    stats = {options["stat"] for _, options in rows_of(body, "AWS/ApiGateway", "Latency")}
    assert {"p50", "p90", "p99"} <= stats


def test_the_dashboard_shows_requests_errors_and_latency_per_route() -> None:
    searched = searched_metrics(dashboard()[0])
    assert searched["Requests"] == {"Sum"}
    assert searched["ClientErrors"] == {"Sum"}
    assert searched["ServerErrors"] == {"Sum"}
    assert searched["Latency"] & {"p50", "p90", "p99"}


@pytest.mark.parametrize("metric", ["Errors", "Throttles", "Duration"])
def test_the_dashboard_shows_each_function_s_errors_throttles_and_duration(metric: str) -> None:
    body, variables = dashboard()
    shown = {dims["FunctionName"] for dims, _ in rows_of(body, "AWS/Lambda", metric)}
    for function in FUNCTIONS:
        assert shown & function_name_ref(function, variables), f"{function} {metric}"


def test_the_dashboard_shows_ingestion_rollups_dlq_and_alerts() -> None:
    body, _ = dashboard()
    service = "${AWS::StackName}"
    for metric in ("EventsIngested", "DuplicateEvents", "RejectedEvents"):
        (dims, _), *_ = rows_of(body, "CostMetrics", metric)
        assert dims == {"route": "POST /api/activity", "service": service}, metric
    for metric in ("BatchSize", "RollupWrites", "BatchItemFailures", "AlertsSent", "AlertPublishFailures"):
        (dims, _), *_ = rows_of(body, "CostMetrics", metric)
        assert dims == {"service": service}, metric
    assert rows_of(body, "AWS/Lambda", "IteratorAge")[0][0] == {"FunctionName": "${RollupFunction}"}
    queue = {"QueueName": "${RollupDeadLetterQueue.QueueName}"}
    assert rows_of(body, "AWS/SQS", "ApproximateNumberOfMessagesVisible")[0][0] == queue


@pytest.mark.parametrize(
    "metric",
    ["ReadThrottleEvents", "WriteThrottleEvents", "ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"],
)
def test_the_dashboard_shows_each_table_s_throttles_and_consumed_capacity(metric: str) -> None:
    shown = {dims["TableName"] for dims, _ in rows_of(dashboard()[0], "AWS/DynamoDB", metric)}
    assert shown == {"${" + table + "}" for table in TABLES}


def test_the_template_with_the_dashboard_body_in_place_passes_cfn_lint() -> None:
    # `sam validate --lint` (make lint) reads template.yaml, where the body is an AWS::Include that
    # cfn-lint cannot follow. This lints the template as CloudFormation gets it, the body in place, so a
    # ${Name} in dashboard.yaml that names no resource or attribute fails here, not in a deploy.
    from cfnlint.api import ManualArgs, lint

    assert lint(json.dumps(load()), config=ManualArgs(regions=["us-east-1"])) == []


def test_the_dashboard_url_is_an_output() -> None:
    value = load()["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert "#dashboards:name=${Dashboard}" in value


# --- Alarms -----------------------------------------------------------------------------------------

ALARMS = resources("AWS::CloudWatch::Alarm")


def test_the_expected_alarms_exist() -> None:
    assert {
        "Api5xxRateAlarm",
        "LambdaThrottlesAlarm",
        "RollupDeadLetterAlarm",
        "BudgetAlertErrorsAlarm",
        "RollupIteratorAgeAlarm",
    } <= set(ALARMS)


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_every_alarm_notifies_the_operations_topic(name: str) -> None:
    props = ALARMS[name]["Properties"]
    assert props["AlarmActions"] == [{"Ref": "OperationsTopic"}]
    assert props["OKActions"] == [{"Ref": "OperationsTopic"}]
    assert props["TreatMissingData"] == "notBreaching"
    assert len(props["AlarmDescription"]) > 40


def test_the_5xx_alarm_is_a_rate_of_api_gateway_5xx_over_requests() -> None:
    props = ALARMS["Api5xxRateAlarm"]["Properties"]
    by_id = {entry["Id"]: entry for entry in props["Metrics"]}
    assert by_id["errors"]["MetricStat"]["Metric"]["MetricName"] == "5XXError"
    assert by_id["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
    (expression,) = [e for e in props["Metrics"] if e.get("ReturnData", True)]
    assert "errors / requests" in expression["Expression"]
    assert 0 < props["Threshold"] <= 10


def test_one_throttles_alarm_covers_every_function_whatever_their_number() -> None:
    # A Metrics Insights query sums Throttles over every FunctionName: a function added to the stack is
    # covered without a metric of its own in the alarm (a metric-math alarm would stop at 10 metrics).
    props = ALARMS["LambdaThrottlesAlarm"]["Properties"]
    (query,) = props["Metrics"]
    assert query["Expression"] == 'SELECT SUM(Throttles) FROM SCHEMA("AWS/Lambda", FunctionName)'
    assert query["ReturnData"] is True
    assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    watching_throttles = [name for name, alarm in ALARMS.items() if "Throttles" in json.dumps(alarm)]
    assert watching_throttles == ["LambdaThrottlesAlarm"]


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_every_alarm_is_one_cloudwatch_accepts(name: str) -> None:
    # CloudWatch's limits for alarms: at most 10 metrics in a metric-math alarm, no SEARCH expression, and
    # a Metrics Insights query only as the alarm's single query.
    entries = ALARMS[name]["Properties"].get("Metrics", [])
    expressions = [entry["Expression"] for entry in entries if "Expression" in entry]
    assert len([entry for entry in entries if "MetricStat" in entry]) <= 10
    assert not [e for e in expressions if "SEARCH(" in e]
    queries = [e for e in expressions if e.lstrip().upper().startswith("SELECT ")]
    assert not queries or len(entries) == 1


def test_the_alert_errors_iterator_age_and_dlq_alarms_watch_the_right_things() -> None:
    alert = ALARMS["BudgetAlertErrorsAlarm"]["Properties"]
    assert (alert["MetricName"], alert["Dimensions"][0]["Value"]) == (
        "Errors",
        {"Ref": "BudgetAlertFunction"},
    )
    age = ALARMS["RollupIteratorAgeAlarm"]["Properties"]
    assert (age["MetricName"], age["Dimensions"][0]["Value"]) == ("IteratorAge", {"Ref": "RollupFunction"})
    assert age["Statistic"] == "Maximum"
    assert 0 < age["Threshold"] <= 3_600_000
    dlq = ALARMS["RollupDeadLetterAlarm"]["Properties"]
    assert (dlq["Namespace"], dlq["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["RollupDeadLetterQueue", "QueueName"]}


def test_the_dashboard_shows_every_alarm() -> None:
    body, _ = dashboard()
    shown = {
        arn
        for widget in body["widgets"]
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    }
    assert shown == {"${" + name + ".Arn}" for name in ALARMS}
