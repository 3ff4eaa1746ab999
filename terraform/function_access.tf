# Access: POST /v1/access (list_members, add_member, remove_member, and the
# callback settings: get_callback_settings, set_callback_settings,
# rotate_callback_secret).
#
# Behind the load balancer: its paths are local.lb_routes["Access"] in lb.tf,
# which also grants allUsers roles/run.invoker (the function checks tokens
# itself; ingress admits only the load balancer and internal traffic).

resource "google_service_account" "access" {
  account_id   = "runway-access"
  display_name = "Runway Access function"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "access" {
  for_each = toset([
    "roles/datastore.user",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.access.member
}

# It seals the callback signing secrets it makes (kms.tf): encrypt only, it
# never opens one.
resource "google_kms_crypto_key_iam_member" "access_callback_secrets" {
  crypto_key_id = google_kms_crypto_key.callback_secrets.id
  role          = "roles/cloudkms.cryptoKeyEncrypter"
  member        = google_service_account.access.member
}

resource "google_cloudfunctions2_function" "access" {
  name        = "runway-access"
  location    = var.region
  description = "Runway Access"

  build_config {
    runtime           = local.function_build.runtime
    entry_point       = "Access"
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
    max_instance_count               = min(var.max_instance_count, local.function_scaling.Access.max_instances)
    max_instance_request_concurrency = local.function_scaling.Access.concurrency
    environment_variables            = local.function_env
    ingress_settings                 = "ALLOW_INTERNAL_AND_GCLB"
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.access.email
  }

  depends_on = [
    google_project_iam_member.access,
    google_kms_crypto_key_iam_member.access_callback_secrets,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_source,
    google_artifact_registry_repository_iam_member.builder,
    google_project_service.services,
  ]
}
