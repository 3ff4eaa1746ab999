# WorkflowTrigger: follows runway-run-events and launches the jobs a finished
# run triggers (publishing their launches to runway-launch).
#
# Pub/Sub pushes each event to the function over HTTPS (a push subscription
# with an OIDC token, retry with exponential backoff and a dead-letter topic;
# see pubsub.tf for why not event_trigger). The function is an HTTP function
# that decodes the Pub/Sub push envelope; 2xx acks, anything else nacks.
# Ingress is internal-only: Pub/Sub in the same project pushing to the run.app
# URL counts as internal. Only the push service account may invoke it.

resource "google_service_account" "workflow_trigger" {
  account_id   = "runway-workflow-trigger"
  display_name = "Runway WorkflowTrigger function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "workflow_trigger" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.workflow_trigger.member
}

# Publish on the topics its route declares (Publishes in routes.go) only.
resource "google_pubsub_topic_iam_member" "workflow_trigger" {
  for_each = toset([
    "launch",
  ])

  project = var.project
  topic   = google_pubsub_topic.runway[each.key].id
  role    = "roles/pubsub.publisher"
  member  = google_service_account.workflow_trigger.member
}

resource "google_cloudfunctions2_function" "workflow_trigger" {
  name        = "runway-workflow-trigger"
  location    = var.region
  description = "Runway WorkflowTrigger"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "WorkflowTrigger"
    service_account   = local.function_build.service_account
    docker_repository = local.function_build.docker_repository

    source {
      storage_source {
        bucket = local.function_build.bucket
        object = local.function_build.object
      }
    }
  }

  service_config {
    available_memory                 = var.function_memory
    available_cpu                    = var.function_cpu
    timeout_seconds                  = 300
    min_instance_count               = 0
    max_instance_count               = min(var.max_instance_count, local.function_scaling.WorkflowTrigger.max_instances)
    max_instance_request_concurrency = local.function_scaling.WorkflowTrigger.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.workflow_trigger.email
  }

  depends_on = [
    google_project_iam_member.workflow_trigger,
    google_pubsub_topic_iam_member.workflow_trigger,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}

#
# Delivery: runway-run-events --push--> WorkflowTrigger
#

# The identity Pub/Sub signs push requests as; it may only invoke this function.
resource "google_service_account" "workflow_trigger_push" {
  account_id   = "runway-push-workflow-trigger"
  display_name = "Runway: Pub/Sub push to WorkflowTrigger"

  depends_on = [google_project_service.services]
}

resource "google_cloud_run_v2_service_iam_member" "workflow_trigger_push" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.workflow_trigger.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.workflow_trigger_push.member
}

# Lets the Pub/Sub service agent mint the push OIDC tokens (needed in projects
# created before 2021-04-08; harmless otherwise).
resource "google_service_account_iam_member" "workflow_trigger_push_token" {
  service_account_id = google_service_account.workflow_trigger_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent_member
}

resource "google_pubsub_subscription" "workflow_trigger" {
  name  = "runway-run-events-workflow-trigger"
  topic = google_pubsub_topic.runway["run_events"].id

  # Only a success counts toward a workflow (the route's Filter, routes.go).
  filter = "attributes.status = \"SUCCESS\""

  # For push, how long Pub/Sub waits for the response: the function timeout.
  ack_deadline_seconds       = 300
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.push_minimum_backoff
    maximum_backoff = var.push_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter["run_events"].id
    max_delivery_attempts = var.push_max_delivery_attempts
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.workflow_trigger.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.workflow_trigger_push.email
      # The function accepts this exactly (main.tf, push_audiences).
      audience = local.push_audiences["WorkflowTrigger"]
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.workflow_trigger_push,
    google_service_account_iam_member.workflow_trigger_push_token,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Dead-lettering: the service agent acks the message it forwards.
resource "google_pubsub_subscription_iam_member" "workflow_trigger_dead_letter" {
  project      = var.project
  subscription = google_pubsub_subscription.workflow_trigger.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}
