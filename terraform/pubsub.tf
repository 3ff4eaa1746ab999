# Topics, their dead-letter topics, and the Pub/Sub service agent's rights.
#
# Why push subscriptions and not event_trigger: a function's event_trigger
# makes Eventarc create and own the Pub/Sub subscription, and neither the
# Cloud Functions nor the Eventarc API lets you set a dead-letter policy on it
# (it can only be patched out of band after every deploy). A push
# subscription managed here gives dead-lettering (dead_letter_policy) and
# exponential backoff (retry_policy) in Terraform, and is what the Cloud Run
# functions documentation now recommends ("Direct Pub/Sub trigger"). The
# push-triggered functions (WorkflowTrigger, ReferenceExecutor) are therefore
# plain HTTP functions that decode the Pub/Sub push envelope and answer 2xx to
# ack, anything else to nack. Their subscriptions are in their own files.

locals {
  # Topic key (used in resource addresses) => topic name.
  topic_names = {
    launch     = "runway-launch"
    run_events = "runway-run-events"
  }
}

resource "google_pubsub_topic" "runway" {
  for_each = local.topic_names

  name = each.value

  depends_on = [google_project_service.services]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.topic_names

  name = "${each.value}-dead-letter"

  depends_on = [google_project_service.services]
}

# Messages published to a topic without a subscription are lost: keep what is
# dead-lettered for inspection and replay (31 days, the maximum).
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topic_names

  name                       = "${each.value}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "2678400s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent (service-PROJECT_NUMBER@gcp-sa-pubsub...) moves
# undeliverable messages to the dead-letter topics and signs the push OIDC
# tokens. google_project_service_identity makes sure it exists.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.services]
}

locals {
  pubsub_agent_member = google_project_service_identity.pubsub.member
}

# Dead-lettering needs publish on the dead-letter topic (here) and subscribe
# on the source subscription (next to each subscription).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topic_names

  project = var.project
  topic   = google_pubsub_topic.dead_letter[each.key].id
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent_member
}
