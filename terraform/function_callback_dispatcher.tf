# CallbackDispatcher: follows runway-run-events and, when a run that asked
# for a callback (launch_job's callback_url) finishes, POSTs its signed
# result to that URL (docs/callbacks.md).
#
# Pub/Sub pushes each event to the function, as for WorkflowTrigger: a
# failed callback is a 5xx, so Pub/Sub delivers the event again after the
# subscription's backoff; the function gives up after its own attempt count
# (recorded in the run's events), before the dead-letter topic does. Only
# final statuses are pushed (the subscription's filter). The function calls
# the internet: its HTTP client refuses private addresses. It is the only
# function that may decrypt the callback signing secrets (kms.tf).

resource "google_service_account" "callback_dispatcher" {
  account_id   = "runway-callback-dispatcher"
  display_name = "Runway CallbackDispatcher function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "callback_dispatcher" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.callback_dispatcher.member
}

# It opens the callback signing secrets to sign (kms.tf): decrypt only.
resource "google_kms_crypto_key_iam_member" "callback_dispatcher_callback_secrets" {
  crypto_key_id = google_kms_crypto_key.callback_secrets.id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = google_service_account.callback_dispatcher.member
}

resource "google_cloudfunctions2_function" "callback_dispatcher" {
  name        = "runway-callback-dispatcher"
  location    = var.region
  description = "Runway CallbackDispatcher"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "CallbackDispatcher"
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
    timeout_seconds                  = 60
    min_instance_count               = 0
    max_instance_count               = min(var.max_instance_count, local.function_scaling.CallbackDispatcher.max_instances)
    max_instance_request_concurrency = local.function_scaling.CallbackDispatcher.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.callback_dispatcher.email
  }

  depends_on = [
    google_project_iam_member.callback_dispatcher,
    google_kms_crypto_key_iam_member.callback_dispatcher_callback_secrets,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}

#
# Delivery: runway-run-events --push--> CallbackDispatcher
#

# The identity Pub/Sub signs push requests as; it may only invoke this function.
resource "google_service_account" "callback_dispatcher_push" {
  account_id   = "runway-push-callbacks"
  display_name = "Runway: Pub/Sub push to CallbackDispatcher"

  depends_on = [google_project_service.services]
}

resource "google_cloud_run_v2_service_iam_member" "callback_dispatcher_push" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.callback_dispatcher.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.callback_dispatcher_push.member
}

# Lets the Pub/Sub service agent mint the push OIDC tokens (needed in projects
# created before 2021-04-08; harmless otherwise).
resource "google_service_account_iam_member" "callback_dispatcher_push_token" {
  service_account_id = google_service_account.callback_dispatcher_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent_member
}

resource "google_pubsub_subscription" "callback_dispatcher" {
  name  = "runway-run-events-callback-dispatcher"
  topic = google_pubsub_topic.runway["run_events"].id

  # Only runs launched with a callback_url call back, when they finish (the
  # route's Filter, routes.go).
  filter = "attributes.callback = \"true\" AND NOT attributes.status = \"RUNNING\""

  # For push, how long Pub/Sub waits for the response: the function timeout.
  ack_deadline_seconds       = 60
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
    push_endpoint = google_cloudfunctions2_function.callback_dispatcher.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.callback_dispatcher_push.email
      # The function accepts this exactly (main.tf, push_audiences).
      audience = local.push_audiences["CallbackDispatcher"]
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.callback_dispatcher_push,
    google_service_account_iam_member.callback_dispatcher_push_token,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Dead-lettering: the service agent acks the message it forwards.
resource "google_pubsub_subscription_iam_member" "callback_dispatcher_dead_letter" {
  project      = var.project
  subscription = google_pubsub_subscription.callback_dispatcher.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}
