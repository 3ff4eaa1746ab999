# Board: GET /board/*, the run board (HTML pages for people in a browser;
# docs/board.md). Setting a run's status publishes the change on
# run_events; canceling one publishes the cancel message, and a finished
# run's freed slot a launch, on launch.
#
# Behind the load balancer, on a backend service of its own with
# Identity-Aware Proxy (lb.tf): IAP signs people in and only IAP's service
# agent may invoke the function; its ingress admits the load balancer and
# internal traffic only. The function checks IAP's assertion itself
# (RUNWAY_IAP_AUDIENCE), then each person's role on the account, as the
# API does.

resource "google_service_account" "board" {
  account_id   = "runway-board"
  display_name = "Runway Board function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "board" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.board.member
}

resource "google_pubsub_topic_iam_member" "board" {
  for_each = toset([
    "launch",
    "run_events",
  ])

  project = var.project
  topic   = google_pubsub_topic.runway[each.key].id
  role    = "roles/pubsub.publisher"
  member  = google_service_account.board.member
}

resource "google_cloudfunctions2_function" "board" {
  name        = local.board_function
  location    = var.region
  description = "Runway Board"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "Board"
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
    min_instance_count               = var.min_instance_count
    max_instance_count               = min(var.max_instance_count, local.function_scaling.Board.max_instances)
    max_instance_request_concurrency = local.function_scaling.Board.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.board.email
  }

  depends_on = [
    google_project_iam_member.board,
    google_pubsub_topic_iam_member.board,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
