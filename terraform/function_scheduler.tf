# Scheduler: called by Cloud Scheduler every minute (scheduler.tf). Launches
# the due ticks of the configurations that have a schedule_interval, each tick
# once (shared/schedules), publishing their launches to runway-launch.
#
# Not behind the load balancer. Ingress is internal-only: Cloud Scheduler in
# the same project calling the run.app URL counts as internal. Only the
# scheduler's service account may invoke it (scheduler.tf).

resource "google_service_account" "scheduler" {
  account_id   = "runway-scheduler"
  display_name = "Runway Scheduler function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "scheduler" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.scheduler.member
}

# Publish on the topics its route declares (Publishes in routes.go) only.
resource "google_pubsub_topic_iam_member" "scheduler" {
  for_each = toset([
    "launch",
  ])

  project = var.project
  topic   = google_pubsub_topic.runway[each.key].id
  role    = "roles/pubsub.publisher"
  member  = google_service_account.scheduler.member
}

resource "google_cloudfunctions2_function" "scheduler" {
  name        = "runway-scheduler"
  location    = var.region
  description = "Runway Scheduler"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "Scheduler"
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
    available_memory = var.function_memory
    available_cpu    = var.function_cpu
    # Shorter than the schedule's period, so passes do not overlap.
    timeout_seconds    = 50
    min_instance_count = 0
    # One pass at a time; it reads the shards in parallel itself.
    max_instance_count               = min(var.max_instance_count, local.function_scaling.Scheduler.max_instances)
    max_instance_request_concurrency = local.function_scaling.Scheduler.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.scheduler.email
  }

  depends_on = [
    google_project_iam_member.scheduler,
    google_pubsub_topic_iam_member.scheduler,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
