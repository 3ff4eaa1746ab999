# AlertDispatcher: follows runway-run-events and sends the alerts of the
# configurations' monitoring blocks (email, Slack, PagerDuty, signed
# webhooks; docs/alerts.md).
#
# Pub/Sub pushes it the final statuses only (the subscription's filter). An
# alert not sent yet is a 5xx, so Pub/Sub delivers the event again after
# the subscription's backoff; the function gives up after its own attempt
# count (recorded in the run's events), before the dead-letter topic does.
# It calls the internet: its HTTP client refuses private addresses. It
# opens the callback secrets, which sign webhook alerts (kms.tf), and it
# alone reads the SMTP relay's URL, a secret (RUNWAY_SMTP_URL).

resource "google_service_account" "alert_dispatcher" {
  account_id   = "runway-alert-dispatcher"
  display_name = "Runway AlertDispatcher function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "alert_dispatcher" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.alert_dispatcher.member
}

# It opens the callback signing secrets to sign webhook alerts: decrypt only.
resource "google_kms_crypto_key_iam_member" "alert_dispatcher_callback_secrets" {
  crypto_key_id = google_kms_crypto_key.callback_secrets.id
  role          = "roles/cloudkms.cryptoKeyDecrypter"
  member        = google_service_account.alert_dispatcher.member
}

# The SMTP relay of email alerts, smtps://USER:PASSWORD@HOST:PORT?from=SENDER:
# its value is never in Terraform (nor in its state). Add it, or a new one,
# with
#   printf %s "$SMTP_URL" | gcloud secrets versions add runway-smtp-url --data-file=-
# (docs/deploy.md); new instances of the function read the latest version.
resource "google_secret_manager_secret" "smtp_url" {
  secret_id = "runway-smtp-url"

  replication {
    auto {}
  }

  depends_on = [google_project_service.services]
}

resource "google_secret_manager_secret_iam_member" "alert_dispatcher_smtp_url" {
  secret_id = google_secret_manager_secret.smtp_url.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.alert_dispatcher.member
}

resource "google_cloudfunctions2_function" "alert_dispatcher" {
  name        = "runway-alert-dispatcher"
  location    = var.region
  description = "Runway AlertDispatcher"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "AlertDispatcher"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.AlertDispatcher.max_instances)
    max_instance_request_concurrency = local.function_scaling.AlertDispatcher.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.alert_dispatcher.email

    # A secret, read from Secret Manager when an instance starts: never a
    # plain environment value (a Go test checks it).
    secret_environment_variables {
      key        = "RUNWAY_SMTP_URL"
      project_id = var.project
      secret     = google_secret_manager_secret.smtp_url.secret_id
      version    = "latest"
    }
  }

  depends_on = [
    google_project_iam_member.alert_dispatcher,
    google_kms_crypto_key_iam_member.alert_dispatcher_callback_secrets,
    google_secret_manager_secret_iam_member.alert_dispatcher_smtp_url,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}

#
# Delivery: runway-run-events --push--> AlertDispatcher
#

# The identity Pub/Sub signs push requests as; it may only invoke this function.
resource "google_service_account" "alert_dispatcher_push" {
  account_id   = "runway-push-alerts"
  display_name = "Runway: Pub/Sub push to AlertDispatcher"

  depends_on = [google_project_service.services]
}

resource "google_cloud_run_v2_service_iam_member" "alert_dispatcher_push" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.alert_dispatcher.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.alert_dispatcher_push.member
}

# Lets the Pub/Sub service agent mint the push OIDC tokens (needed in projects
# created before 2021-04-08; harmless otherwise).
resource "google_service_account_iam_member" "alert_dispatcher_push_token" {
  service_account_id = google_service_account.alert_dispatcher_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent_member
}

resource "google_pubsub_subscription" "alert_dispatcher" {
  name  = "runway-run-events-alert-dispatcher"
  topic = google_pubsub_topic.runway["run_events"].id

  # The statuses a monitoring block may alert on (and a success resolves
  # PagerDuty alerts): every final status. A Go test checks it against the
  # code.
  filter = "attributes.status = \"FAILED\" OR attributes.status = \"SUCCESS\" OR attributes.status = \"NO_MATCH\" OR attributes.status = \"CHECKED\""

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
    push_endpoint = google_cloudfunctions2_function.alert_dispatcher.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.alert_dispatcher_push.email
      # The function accepts this exactly (main.tf, push_audiences).
      audience = local.push_audiences["AlertDispatcher"]
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.alert_dispatcher_push,
    google_service_account_iam_member.alert_dispatcher_push_token,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Dead-lettering: the service agent acks the message it forwards.
resource "google_pubsub_subscription_iam_member" "alert_dispatcher_dead_letter" {
  project      = var.project
  subscription = google_pubsub_subscription.alert_dispatcher.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent_member
}
