# The Reaper's and the Scheduler's schedules: Cloud Scheduler calls them with
# OIDC tokens of its own service account, the only principal allowed to
# invoke them.
# (An App Engine app is needed only for App Engine targets, not HTTP ones.)

resource "google_service_account" "reaper_scheduler" {
  account_id   = "runway-reaper-scheduler"
  display_name = "Runway Cloud Scheduler jobs (invoke the Reaper and the Scheduler)"

  depends_on = [google_project_service.services]
}

resource "google_cloud_run_v2_service_iam_member" "reaper_scheduler" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.reaper.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.reaper_scheduler.member
}

resource "google_cloud_scheduler_job" "reaper" {
  name        = "runway-reaper"
  description = "Runway (${var.environment_name}): run the Reaper"
  region      = var.region
  schedule    = var.reaper_schedule
  time_zone   = "Etc/UTC"
  # A missed sweep is not retried: the next one is at most a minute away.
  attempt_deadline = "60s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.reaper.service_config[0].uri
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.reaper_scheduler.email
      # The Reaper accepts this exactly (main.tf, push_audiences).
      audience = local.push_audiences["Reaper"]
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.reaper_scheduler,
    google_project_service.services,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_scheduler" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.scheduler.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_service_account.reaper_scheduler.member
}

resource "google_cloud_scheduler_job" "scheduler" {
  name        = "runway-scheduler"
  description = "Runway (${var.environment_name}): launch the due ticks of the configurations' schedules"
  region      = var.region
  schedule    = var.scheduler_schedule
  time_zone   = "Etc/UTC"
  # A missed pass is not retried: the next one launches what it left.
  attempt_deadline = "60s"

  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.scheduler.service_config[0].uri
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.reaper_scheduler.email
      # The Scheduler accepts this exactly (main.tf, push_audiences).
      audience = local.push_audiences["Scheduler"]
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.scheduler_scheduler,
    google_project_service.services,
  ]
}
