# DagStatus: POST /v1/dag/status (check_run_status, get_last_status,
# get_by_status, get_run_events, set_run_status, report_run_status, cancel_run,
# set_runs_status). A status change is published to runway-run-events, which
# WorkflowTrigger follows; a cancel to runway-launch, for the run's executor.
#
# Behind the load balancer: its paths are local.lb_routes["DagStatus"] in lb.tf,
# which also grants allUsers roles/run.invoker (the function checks tokens
# itself; ingress admits only the load balancer and internal traffic).

resource "google_service_account" "dag_status" {
  account_id   = "runway-dag-status"
  display_name = "Runway DagStatus function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "dag_status" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.dag_status.member
}

# Publish on the topics its route declares (Publishes in routes.go) only:
# status changes on run_events, cancel_run's cancel messages on launch, where
# the run's executor listens.
resource "google_pubsub_topic_iam_member" "dag_status" {
  for_each = toset([
    "launch",
    "run_events",
  ])

  project = var.project
  topic   = google_pubsub_topic.runway[each.key].id
  role    = "roles/pubsub.publisher"
  member  = google_service_account.dag_status.member
}

resource "google_cloudfunctions2_function" "dag_status" {
  name        = "runway-dag-status"
  location    = var.region
  description = "Runway DagStatus"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "DagStatus"
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
    timeout_seconds                  = 90 # check_run_status may wait 60 s (api.MaxWaitSeconds), plus its reads
    min_instance_count               = var.min_instance_count
    max_instance_count               = min(var.max_instance_count, local.function_scaling.DagStatus.max_instances)
    max_instance_request_concurrency = local.function_scaling.DagStatus.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.dag_status.email
  }

  depends_on = [
    google_project_iam_member.dag_status,
    google_pubsub_topic_iam_member.dag_status,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
