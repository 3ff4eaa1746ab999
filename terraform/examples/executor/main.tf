# How a platform team plugs its own executor into Runway.
#
# Runway publishes every launch to the runway-launch topic with attributes
# account, environment, configuration_type, run_id and attempt. An executor
# owns a subscription on that topic that only lets through its
# configuration_type for the accounts it serves, runs the job, and reports the
# run's status to Runway's API (POST /v1/dag/status, action report_run_status)
# with a Google ID token of its service account whose audience is the API URL.
#
# One executor per account is the safe default: an executor serving several
# accounts holds the rights of all of them, and an editor of one account could
# name another account's project in a definition (docs/executors.md, 8).
#
# Google Cloud permissions: subscribe on its own subscription, nothing else.
# Runway permissions: its service account must be a member with role
# executer of every account whose jobs it runs (see outputs.tf).

locals {
  runway_project = coalesce(var.runway_project, var.project)
  launch_topic   = "projects/${local.runway_project}/topics/runway-launch"
  dead_letter    = "projects/${local.runway_project}/topics/runway-launch-dead-letter"
  push           = var.push_endpoint != ""

  # The accounts it serves, and the type it runs. A filter is at most 256
  # bytes: a few accounts at most (an executor per account is the rule).
  filter = join(" AND ", [
    "(${join(" OR ", [for a in var.accounts : "attributes.account = \"${a}\""])})",
    "attributes.configuration_type = \"${var.configuration_type}\"",
  ])
}

data "google_project" "this" {
  project_id = var.project
}

resource "google_service_account" "executor" {
  account_id   = "executor-${var.name}"
  display_name = "Runway executor ${var.name} (${var.configuration_type})"
}

resource "google_pubsub_subscription" "launches" {
  name  = "runway-launch-${var.name}"
  topic = local.launch_topic

  # Only this executor's launches (and cancels): its accounts, its type; the
  # others are acked for it by Pub/Sub. A filter cannot be changed: changing
  # it replaces the subscription.
  filter = local.filter

  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = local.dead_letter
    max_delivery_attempts = var.max_delivery_attempts
  }

  lifecycle {
    precondition {
      condition     = length(local.filter) <= 256
      error_message = "The subscription filter is longer than Pub/Sub's 256 bytes: serve fewer accounts with this executor (one per account is the rule)."
    }
  }

  dynamic "push_config" {
    for_each = local.push ? [1] : []
    content {
      push_endpoint = var.push_endpoint
      oidc_token {
        service_account_email = google_service_account.executor.email
        audience              = var.push_endpoint
      }
    }
  }
}

# Pull: the executor reads and acks its own subscription.
resource "google_pubsub_subscription_iam_member" "executor" {
  count = local.push ? 0 : 1

  subscription = google_pubsub_subscription.launches.name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.executor.member
}

# Dead-lettering: the Pub/Sub service agent of this subscription's project
# must be able to ack on the subscription. If this project is not Runway's,
# it must also be granted roles/pubsub.publisher on runway-launch-dead-letter
# (Runway's pubsub.tf grants it only to its own project's agent).
resource "google_pubsub_subscription_iam_member" "dead_letter" {
  subscription = google_pubsub_subscription.launches.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
