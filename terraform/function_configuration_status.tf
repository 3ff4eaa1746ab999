# ConfigurationStatus: POST /v1/configuration/status
# (set_configuration_status, per the Tailer reference).
#
# Behind the load balancer: its paths are local.lb_routes["ConfigurationStatus"] in lb.tf,
# which also grants allUsers roles/run.invoker (the function checks tokens
# itself; ingress admits only the load balancer and internal traffic).

resource "google_service_account" "configuration_status" {
  account_id   = "runway-configuration-status"
  display_name = "Runway ConfigurationStatus function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "configuration_status" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.configuration_status.member
}

resource "google_cloudfunctions2_function" "configuration_status" {
  name        = "runway-configuration-status"
  location    = var.region
  description = "Runway ConfigurationStatus"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "ConfigurationStatus"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.ConfigurationStatus.max_instances)
    max_instance_request_concurrency = local.function_scaling.ConfigurationStatus.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.configuration_status.email
  }

  depends_on = [
    google_project_iam_member.configuration_status,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
