# DagLaunch: POST /v1/dag/launch (launch_job). Creates the run and publishes
# its launch message to runway-launch.
#
# Behind the load balancer: its paths are local.lb_routes["DagLaunch"] in lb.tf,
# which also grants allUsers roles/run.invoker (the function checks tokens
# itself; ingress admits only the load balancer and internal traffic).

resource "google_service_account" "dag_launch" {
  account_id   = "runway-dag-launch"
  display_name = "Runway DagLaunch function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "dag_launch" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.dag_launch.member
}

# Publish on the topics its route declares (Publishes in routes.go) only.
resource "google_pubsub_topic_iam_member" "dag_launch" {
  for_each = toset([
    "launch",
  ])

  project = var.project
  topic   = google_pubsub_topic.runway[each.key].id
  role    = "roles/pubsub.publisher"
  member  = google_service_account.dag_launch.member
}

resource "google_cloudfunctions2_function" "dag_launch" {
  name        = "runway-dag-launch"
  location    = var.region
  description = "Runway DagLaunch"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "DagLaunch"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.DagLaunch.max_instances)
    max_instance_request_concurrency = local.function_scaling.DagLaunch.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.dag_launch.email
  }

  depends_on = [
    google_project_iam_member.dag_launch,
    google_pubsub_topic_iam_member.dag_launch,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
