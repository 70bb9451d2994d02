// Alerts that tell an operator when something goes wrong, and the action group that e-mails them.
// Log alerts read what the app writes to Application Insights (workspace tables AppTraces,
// AppRequests, AppMetrics; the telemetry contract is in the README, "Watching it run");
// metric alerts read the Event Grid system topic.

@description('Azure region of the log alert rules (the workspace\'s).')
param location string

@description('Name of the action group.')
param actionGroupName string

@description('E-mail address that receives the alerts; empty for none.')
param alertEmail string = ''

@description('Resource id of the Log Analytics workspace the app\'s telemetry lands in.')
param workspaceId string

@description('Resource id of the Event Grid system topic on the documents account.')
param systemTopicId string

@description('Minutes after which an outstanding job counts as stuck.')
@minValue(10)
param stuckJobAfterMinutes int = 120

@description('Tags applied to every resource.')
param tags object = {}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'translation'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var stuckAfterSeconds = stuckJobAfterMinutes * 60

// One row per problem; each rule fires when its query returns any row in the window.
var logAlerts = [
  {
    name: 'poison-message'
    displayName: 'Translation: a message reached a poison queue'
    description: 'A results message or a dropped blob failed processing five times and landed in translation-results-poison or webjobs-blobtrigger-poison; the app recorded the file as needing attention. See the workbook and the records table.'
    severity: 1
    frequency: 'PT5M'
    query: 'AppTraces | where tostring(Properties.event) == "translation.poison" | project TimeGenerated, source_path = tostring(Properties.source_path), record_key = tostring(Properties.record_key), reason_code = tostring(Properties.reason_code)'
  }
  {
    name: 'needs-attention'
    displayName: 'Translation: a record needs attention'
    description: 'A file ended in state needs_attention (it could not be submitted or recorded normally), or the catch-up cannot list the source container (reason code CatchUpListingFailed). The reason code says why.'
    severity: 2
    frequency: 'PT5M'
    query: 'AppTraces | where tostring(Properties.event) == "translation.needs_attention" | project TimeGenerated, source_path = tostring(Properties.source_path), record_key = tostring(Properties.record_key), reason_code = tostring(Properties.reason_code)'
  }
  {
    name: 'rules-document-rejected'
    displayName: 'Translation: the rules document cannot be used'
    description: 'The rules per folder (RULES_BLOB) do not parse, break the schema or name a language the service does not translate. Drops go on under the last good rules each instance read (none on a fresh instance). translation-ops rules show says what is wrong; fix and upload the document again.'
    severity: 2
    frequency: 'PT5M'
    query: 'AppTraces | where tostring(Properties.event) == "translation.rules_rejected" | project TimeGenerated, rules_version = tostring(Properties.rules_version), rules_problem = tostring(Properties.rules_problem)'
  }
  {
    name: 'character-budget-80'
    displayName: 'Translation: 80% of the character budget is spent'
    description: 'A window of CHARACTER_BUDGET_PER_DAY or CHARACTER_BUDGET_PER_MONTH (UTC) has spent 80% of its characters (charged plus estimates in flight). Files past the budget wait (BudgetExceeded) until the window turns or the budget is raised; translation-ops status shows the spend.'
    severity: 2
    frequency: 'PT5M'
    query: 'AppTraces | where tostring(Properties.event) == "translation.budget_alert" | project TimeGenerated, budget_window = tostring(Properties.budget_window), characters_spent = tolong(Properties.characters_spent), character_budget = tolong(Properties.character_budget)'
  }
  {
    name: 'failed-executions'
    displayName: 'Translation: function executions failed'
    description: 'A function invocation ended with an exception; the platform retries, and repeated failures end in a poison queue.'
    severity: 2
    frequency: 'PT5M'
    query: 'AppRequests | where Success == false | project TimeGenerated, OperationName, ResultCode'
  }
  {
    name: 'stuck-job'
    displayName: 'Translation: a job has been outstanding too long'
    description: 'The oldest outstanding Document Translation job is older than STUCK_JOB_AFTER_MINUTES (${stuckJobAfterMinutes} min).'
    severity: 2
    frequency: 'PT15M'
    query: 'union (AppTraces | where tostring(Properties.event) == "translation.poll" | project TimeGenerated, oldest_seconds = todouble(Properties.oldest_outstanding_seconds)), (AppMetrics | where Name == "translation.jobs.oldest_age_seconds" | project TimeGenerated, oldest_seconds = Max) | where oldest_seconds > ${stuckAfterSeconds}'
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in logAlerts: {
    name: rule.name
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      evaluationFrequency: rule.frequency
      windowSize: rule.frequency
      scopes: [
        workspaceId
      ]
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

// Event Grid could not hand a blob event to a function: retried deliveries, events given up on and
// written to the dead-letter container, and events dropped without a dead letter. Each rule covers both
// subscriptions of the topic (eventgrid-subscription.bicep) and fires once per subscription affected:
// submit-on-drop-blob-created (drops: the file waits for the catch-up) or
// notice-translation-written-blob-created (staging writes: the job is recorded at the next poll instead).
var topicAlerts = [
  {
    name: 'eventgrid-dead-lettered'
    description: 'Event Grid dead-lettered blob events into eventgrid-deadletter: those drops or staging writes (the alert names the subscription) reached no function. Replay them from the container.'
    metric: 'DeadLetteredCount'
    severity: 1
  }
  {
    name: 'eventgrid-dropped'
    description: 'Event Grid dropped blob events (drops or staging writes: the alert names the subscription) it could neither deliver nor dead-letter.'
    metric: 'DroppedEventCount'
    severity: 1
  }
  {
    name: 'eventgrid-delivery-failures'
    description: 'Event Grid failed to deliver blob events to a function (it retries for 24 hours); the alert names the subscription. AegDeliveryFailureLogs in the workspace says why.'
    metric: 'DeliveryAttemptFailCount'
    severity: 3
  }
]

resource topicAlertRules 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for rule in topicAlerts: {
    name: rule.name
    location: 'global'
    tags: tags
    properties: {
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        systemTopicId
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: rule.metric
            metricNamespace: 'Microsoft.EventGrid/systemTopics'
            metricName: rule.metric
            // One alert per subscription, named in the alert.
            dimensions: [
              {
                name: 'EventSubscriptionName'
                operator: 'Include'
                values: [
                  '*'
                ]
              }
            ]
            operator: 'GreaterThan'
            threshold: 0
            timeAggregation: 'Total'
          }
        ]
      }
      autoMitigate: true
      actions: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
]

output actionGroupId string = actionGroup.id
