# Executions: GET /rest/v1/executions/* and /plugins/dashboard/rest/v1/flows/*
# (the ETLWorks flow status API). Read-only, hence roles/datastore.viewer.
#
# Behind the load balancer: its paths are local.lb_routes["Executions"] in lb.tf,
# which also grants allUsers roles/run.invoker (the function checks tokens
# itself; ingress admits only the load balancer and internal traffic).

resource "google_service_account" "executions" {
  account_id   = "runway-executions"
  display_name = "Runway Executions function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "executions" {
  for_each = toset([
    "roles/datastore.viewer",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.executions.member
}

resource "google_cloudfunctions2_function" "executions" {
  name        = "runway-executions"
  location    = var.region
  description = "Runway Executions"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "Executions"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.Executions.max_instances)
    max_instance_request_concurrency = local.function_scaling.Executions.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.executions.email
  }

  depends_on = [
    google_project_iam_member.executions,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
