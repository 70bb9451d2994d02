"""Alerts and the workbook read exactly what the app emits (the telemetry contract in the README)."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep_tree import INFRA, dotted, module_params, parse, resources, single

# The contract the app writes (custom dimensions in AppTraces.Properties, metrics in AppMetrics.Name).
EVENTS = {
    "translation.claimed",
    "translation.submitted",
    "translation.rejected",
    "translation.recorded",
    "translation.needs_attention",
    "translation.poison",
    "translation.poll",
    "translation.catch_up",
    "translation.superseded",
    "translation.rules_rejected",
    "translation.budget_alert",
}
DIMENSIONS = {
    "event",
    "source_path",
    "source_version",
    "record_key",
    "job_id",
    "outcome",
    "reason_code",
    "languages",
    "characters_charged",
    "drop_to_record_seconds",
    "due",
    "jobs_looked_at",
    "oldest_outstanding_seconds",
    "request_id",
    "rules_version",
    "rules_problem",
    "budget_window",
    "characters_spent",
    "character_budget",
}
METRICS = {
    "translation.files.submitted",
    "translation.files.recorded",
    "translation.documents",
    "translation.characters.charged",
    "translation.poll.due",
    "translation.jobs.oldest_age_seconds",
    "translation.drop_to_record.seconds",
}


def _log_alerts() -> list[dict]:
    return parse("modules/alerts.bicep")["variables"]["logAlerts"]["value"]


def _workbook() -> dict:
    return json.loads((INFRA / "workbooks" / "translation.workbook.json").read_text())


def _queries() -> list[str]:
    alerts = [alert["query"] for alert in _log_alerts()]
    workbook = [item["content"]["query"] for item in _workbook()["items"] if item["type"] == 3]
    return alerts + workbook


@pytest.mark.parametrize("query", _queries(), ids=lambda q: q[:40])
def test_queries_use_only_the_telemetry_contract(query):
    assert set(re.findall(r'"(translation\.[a-z_]+)"', query)) - METRICS <= EVENTS
    assert set(re.findall(r"Properties\.(\w+)", query)) <= DIMENSIONS
    for metric in re.findall(r'Name == "([^"]+)"', query):
        assert metric in METRICS
    assert re.match(r"^(AppTraces|AppRequests|AppMetrics|union)", query.strip())


def test_log_alerts_cover_poison_needs_attention_failed_executions_and_stuck_jobs():
    queries = {alert["name"]: alert["query"] for alert in _log_alerts()}
    assert set(queries) == {
        "poison-message",
        "needs-attention",
        "failed-executions",
        "stuck-job",
        "rules-document-rejected",
        "character-budget-80",
    }
    assert 'tostring(Properties.event) == "translation.budget_alert"' in queries["character-budget-80"]
    assert 'tostring(Properties.event) == "translation.rules_rejected"' in queries["rules-document-rejected"]
    assert 'tostring(Properties.event) == "translation.poison"' in queries["poison-message"]
    assert 'tostring(Properties.event) == "translation.needs_attention"' in queries["needs-attention"]
    assert queries["failed-executions"].startswith("AppRequests | where Success == false")
    stuck = queries["stuck-job"]
    assert "Properties.oldest_outstanding_seconds" in stuck and '"translation.jobs.oldest_age_seconds"' in stuck
    assert stuck.endswith("| where oldest_seconds > ${stuckAfterSeconds}")
    alerts = parse("modules/alerts.bicep")
    assert dotted(alerts["variables"]["stuckAfterSeconds"]["value"]["operator"]["operands"]["operand_1"]) == (
        "stuckJobAfterMinutes"
    )


def test_log_alerts_run_on_the_workspace_and_notify_the_action_group():
    tree = parse("modules/alerts.bicep")
    rule = single(tree, "Microsoft.Insights/scheduledQueryRules")
    assert rule.loop["detail"]["array_name"] == "logAlerts"
    properties = rule.body["properties"]
    assert properties["scopes"] == ["workspaceId"]
    assert dotted(properties["actions"]["actionGroups"][0]) == "actionGroup.id"
    criterion = properties["criteria"]["allOf"][0]
    assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) == ("Count", "GreaterThan", 0)
    main = parse("main.bicep")
    assert dotted(module_params(main, "alerts")["workspaceId"]) == "monitoring.outputs.workspaceId"


def test_event_grid_dead_letters_drops_and_delivery_failures_alert_on_the_system_topic():
    tree = parse("modules/alerts.bicep")
    metrics = {alert["metric"] for alert in tree["variables"]["topicAlerts"]["value"]}
    assert metrics == {"DeadLetteredCount", "DroppedEventCount", "DeliveryAttemptFailCount"}
    rule = single(tree, "Microsoft.Insights/metricAlerts").body["properties"]
    assert rule["scopes"] == ["systemTopicId"]
    assert rule["criteria"]["allOf"][0]["metricNamespace"] == "Microsoft.EventGrid/systemTopics"


def test_event_grid_alerts_cover_every_subscription_on_the_topic_one_alert_each():
    # No filter on a subscription name: the staging writes' subscription is covered as the drops' is,
    # and the split by EventSubscriptionName says which of them an alert is about.
    rule = single(parse("modules/alerts.bicep"), "Microsoft.Insights/metricAlerts").body["properties"]
    [criterion] = rule["criteria"]["allOf"]
    assert criterion["dimensions"] == [{"name": "EventSubscriptionName", "operator": "Include", "values": ["*"]}]
    topic = parse("eventgrid-subscription.bicep")
    subscriptions = single(topic, "Microsoft.EventGrid/systemTopics/eventSubscriptions")
    assert dotted(subscriptions.body["parent"]) == "systemTopic"
    assert len(topic["variables"][subscriptions.loop["detail"]["array_name"]]["value"]) == 2
    main = parse("main.bicep")
    assert dotted(module_params(main, "alerts")["systemTopicId"]) == "eventGridTopic.outputs.id"


def test_the_action_group_mails_the_operator_only_when_an_address_is_given():
    main = parse("main.bicep")
    assert main["parameters"]["alertEmail"]["default"] == ""
    group = single(parse("modules/alerts.bicep"), "Microsoft.Insights/actionGroups").body
    receivers = group["properties"]["emailReceivers"]["operator"]["operands"]
    assert receivers["true_value"] == []
    assert receivers["false_value"][0]["emailAddress"] == "alertEmail"


def test_the_workbook_shows_the_five_views_over_the_workspace():
    titles = [item["content"]["title"] for item in _workbook()["items"] if item["type"] == 3]
    for expected in (
        "Files per day by outcome",
        "Characters charged per day",
        "Failures by reason code",
        "Jobs looked at per tick, entries due, and the age of the oldest job (minutes)",
        "Time from drop to final record (minutes)",
    ):
        assert expected in titles
    tree = parse("modules/workbook.bicep")
    workbook = single(tree, "Microsoft.Insights/workbooks").body
    assert workbook["properties"]["sourceId"] == "workspaceId"
    assert "../workbooks/translation.workbook.json" in json.dumps(workbook["properties"]["serializedData"])
    assert dotted(module_params(parse("main.bicep"), "workbook")["workspaceId"]) == "monitoring.outputs.workspaceId"
    assert not resources(tree, "Microsoft.Insights/workbooks", existing=True)
