# ReferenceExecutor (optional, var.enable_reference_executor): executes the
# launches published to runway-launch itself, for demo and test environments,
# and reports each run's status the way any executor does: POST
# /v1/dag/status through the load balancer with a Google ID token whose
# audience is https://<domain>. So its service account needs no Google Cloud
# role at all, only Runway membership: role executer on the accounts it runs
# (add it with POST /v1/access, add_member; see the outputs).
#
# Delivery is a push subscription on runway-launch, as for WorkflowTrigger
# (see pubsub.tf): retry with exponential backoff, then the dead-letter topic.
# Its filter lets through the launch and cancel messages of
# var.reference_executor_accounts only: an executor serves the accounts it is
# meant for, never every account (docs/executors.md, 8).

locals {
  reference_executor_count = var.enable_reference_executor ? 1 : 0

  # The accounts it serves, the message types it handles, and the extra
  # filter, if any. A Pub/Sub filter is at most 256 bytes.
  reference_executor_filter = join(" AND ", concat(
    ["(${join(" OR ", [for a in var.reference_executor_accounts : "attributes.account = \"${a}\""])})"],
    ["(attributes.message_type = \"launch\" OR attributes.message_type = \"cancel\")"],
    var.reference_executor_filter == "" ? [] : ["(${var.reference_executor_filter})"],
  ))
}

resource "google_service_account" "reference_executor" {
  count = local.reference_executor_count

  account_id   = "runway-reference-executor"
  display_name = "Runway ReferenceExecutor function"

  depends_on = [google_project_service.services]
}

resource "google_cloudfunctions2_function" "reference_executor" {
  count = local.reference_executor_count

  name        = "runway-reference-executor"
  location    = var.region
  description = "Runway ReferenceExecutor"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "ReferenceExecutor"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.ReferenceExecutor.max_instances)
    max_instance_request_concurrency = local.function_scaling.ReferenceExecutor.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.reference_executor[0].email
  }

  depends_on = [
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}

#
# Delivery: runway-launch --push--> ReferenceExecutor
#

resource "google_service_account" "reference_executor_push" {
  count = local.reference_executor_count

  account_id   = "runway-push-reference-exec"
  display_name = "Runway: Pub/Sub push to ReferenceExecutor"

  depends_on = [google_project_service.services]
}

resource "google_cloud_run_v2_service_iam_member" "reference_executor_push" {
  count = local.reference_executor_count

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.reference_executor[0].service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.reference_executor_push[0].member
}

resource "google_service_account_iam_member" "reference_executor_push_token" {
  count = local.reference_executor_count

  service_account_id = google_service_account.reference_executor_push[0].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent_member
}

resource "google_pubsub_subscription" "reference_executor" {
  count = local.reference_executor_count

  name   = "runway-launch-reference-executor"
  topic  = google_pubsub_topic.runway["launch"].id
  filter = local.reference_executor_filter

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
    dead_letter_topic     = google_pubsub_topic.dead_letter["launch"].id
    max_delivery_attempts = var.push_max_delivery_attempts
  }

  lifecycle {
    precondition {
      condition     = length(var.reference_executor_accounts) > 0
      error_message = "reference_executor_accounts must list the accounts the reference executor serves (it never serves every account)."
    }
    precondition {
      condition     = length(local.reference_executor_filter) <= 256
      error_message = "The reference executor's filter is longer than Pub/Sub's 256 bytes: list fewer accounts, or shorten reference_executor_filter."
    }
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.reference_executor[0].service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.reference_executor_push[0].email
      # The function accepts this exactly (main.tf, push_audiences).
      audience = local.push_audiences["ReferenceExecutor"]
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.reference_executor_push,
    google_service_account_iam_member.reference_executor_push_token,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

resource "google_pubsub_subscription_iam_member" "reference_executor_dead_letter" {
  count = local.reference_executor_count

  project      = var.project
  subscription = google_pubsub_subscription.reference_executor[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}
