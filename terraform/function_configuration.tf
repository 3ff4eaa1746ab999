# Configuration: POST /v1/configuration: manage an account's job
# configurations.
#
# Behind the load balancer: its paths are local.lb_routes["Configuration"] in lb.tf,
# which also grants allUsers roles/run.invoker (the function checks tokens
# itself; ingress admits only the load balancer and internal traffic).

resource "google_service_account" "configuration" {
  account_id   = "runway-configuration"
  display_name = "Runway Configuration function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "configuration" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.configuration.member
}

resource "google_cloudfunctions2_function" "configuration" {
  name        = "runway-configuration"
  location    = var.region
  description = "Runway Configuration"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "Configuration"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.Configuration.max_instances)
    max_instance_request_concurrency = local.function_scaling.Configuration.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.configuration.email
  }

  depends_on = [
    google_project_iam_member.configuration,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
