# Runway on Google Cloud: Cloud Run functions (gen2, Go) behind one HTTPS
# load balancer, Firestore, Pub/Sub and Cloud Scheduler.
#
# Layout (one file per concern, one function_<name>.tf per function):
#   main.tf        providers, the shared function settings (env map), APIs, source
#   pubsub.tf      topics, dead-letter topics, the Pub/Sub service agent
#   firestore.tf   database and composite indexes
#   kms.tf         the Cloud KMS key sealing the callback signing secrets
#   lb.tf          the route table of the HTTPS host, NEGs, backends, URL map
#   scheduler.tf   the Reaper's Cloud Scheduler job
#   function_*.tf  each function: its service account, its roles, the function

provider "google" {
  project        = var.project
  region         = var.region
  default_labels = local.labels
}

provider "google-beta" {
  project        = var.project
  region         = var.region
  default_labels = local.labels
}

locals {
  labels = merge({
    app         = "runway"
    environment = var.environment_name
  }, var.labels)

  # The API's URL: the audience ID tokens must be issued for.
  api_url = "https://${var.domain}"

  # Instances and concurrent requests per function, sized for 5,000
  # launches/s (docs/scale.md has the arithmetic): an instance (1 vCPU) is
  # planned at 500 requests/s, a quarter of the rate its CPU allows (512 us
  # of process CPU a launch, bench/RESULTS.md section 5), which leaves room
  # for TLS to Firestore, garbage collection and bursts; each maximum is
  # twice what 5,000 launches/s needs. A launch is one DagLaunch request and
  # three DagStatus reports (claim, heartbeat, end), and one pushed event to
  # WorkflowTrigger and to AlertDispatcher (SUCCESS and final statuses).
  # var.max_instance_count caps them all (a project's quota). The Reaper
  # and the Scheduler make one pass at a time.
  function_scaling = {
    DagLaunch           = { max_instances = 20, concurrency = var.max_instance_request_concurrency }
    DagStatus           = { max_instances = 60, concurrency = var.max_instance_request_concurrency }
    WorkflowTrigger     = { max_instances = 20, concurrency = var.max_instance_request_concurrency }
    AlertDispatcher     = { max_instances = 20, concurrency = var.max_instance_request_concurrency }
    CallbackDispatcher  = { max_instances = 20, concurrency = var.max_instance_request_concurrency }
    Access              = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    Board               = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    Configuration       = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    ConfigurationStatus = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    Executions          = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    WorkflowStatus      = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    ReferenceExecutor   = { max_instances = 10, concurrency = var.max_instance_request_concurrency }
    Reaper              = { max_instances = 1, concurrency = 1 }
    Scheduler           = { max_instances = 1, concurrency = 1 }
  }

  # The service accounts that call the Pub/Sub-fed and scheduled functions:
  # the push subscriptions' and the scheduler's.
  system_callers = concat(
    [
      google_service_account.workflow_trigger_push.email,
      google_service_account.callback_dispatcher_push.email,
      google_service_account.alert_dispatcher_push.email,
      google_service_account.reaper_scheduler.email,
    ],
    google_service_account.reference_executor_push[*].email,
  )

  # The audience of the OIDC tokens with which the push subscriptions and
  # the scheduler call each function they feed (key: entry point), which
  # the function accepts exactly (RUNWAY_PUSH_AUDIENCES).
  #
  # Cloud Run's invoker check takes a token whose audience is one of the
  # service's URLs or custom audiences. A function made with the Cloud
  # Functions v2 API has, besides its run.app URLs, a cloudfunctions.net URL
  # (https://cloud.google.com/run/docs/triggering/https-request), the one
  # Google's Cloud Functions docs issue tokens for ("For Cloud Functions,
  # endpoint and audience are the same": the functions-bearer-token
  # sample). Unlike the run.app URL of service_config[0].uri, which has a
  # random part, it is known before the function exists, so each function
  # is told its own URL without a dependency cycle. The pushes still go to
  # the run.app URL, on which internal-only ingress admits them.
  # A Go test checks that each subscription and job uses its function's
  # entry here, and that the entry is that function's URL.
  functions_url = "https://${var.region}-${var.project}.cloudfunctions.net"
  push_audiences = {
    AlertDispatcher    = "${local.functions_url}/runway-alert-dispatcher"
    CallbackDispatcher = "${local.functions_url}/runway-callback-dispatcher"
    Reaper             = "${local.functions_url}/runway-reaper"
    ReferenceExecutor  = "${local.functions_url}/runway-reference-executor"
    Scheduler          = "${local.functions_url}/runway-scheduler"
    WorkflowTrigger    = "${local.functions_url}/runway-workflow-trigger"
  }

  # Every function gets exactly this environment: every RUNWAY_* variable
  # of shared/config but the dev-only RUNWAY_DEV_KEY_FILE (a Go test checks
  # it). Keep it the single place these are set.
  function_env = {
    RUNWAY_PROJECT            = var.project
    RUNWAY_FIRESTORE_DATABASE = google_firestore_database.runway.name
    RUNWAY_LAUNCH_TOPIC       = google_pubsub_topic.runway["launch"].name
    RUNWAY_RUN_EVENTS_TOPIC   = google_pubsub_topic.runway["run_events"].name
    RUNWAY_PUBLISH_TIMEOUT    = var.publish_timeout
    RUNWAY_REDELIVER_AFTER    = var.redeliver_after
    RUNWAY_STORE_TIMEOUT      = var.store_timeout
    RUNWAY_RETENTION_DAYS     = tostring(var.retention_days)
    RUNWAY_RATE_LIMIT         = var.rate_limit
    RUNWAY_LAUNCH_RATE_LIMIT  = var.launch_rate_limit
    RUNWAY_REPORT_RATE_LIMIT  = var.report_rate_limit
    # Long waits may hold at most half of an instance's requests: the other
    # half stays free for executors' reports, which share DagStatus.
    RUNWAY_MAX_WAITS            = tostring(max(1, floor(var.max_instance_request_concurrency / 2)))
    RUNWAY_MAX_WAITS_PER_CALLER = tostring(var.max_waits_per_caller)
    RUNWAY_AUTH_MODE            = "google"
    RUNWAY_AUDIENCES            = join(",", distinct(concat([local.api_url], var.api_audiences)))
    RUNWAY_API_URL              = local.api_url
    RUNWAY_SA_KEYS_URL          = var.service_account_keys_url
    RUNWAY_ADMINS               = join(",", var.admins)
    RUNWAY_SYSTEM_CALLERS       = join(",", local.system_callers)
    RUNWAY_LOG_LEVEL            = var.log_level
    RUNWAY_PUSH_AUDIENCES       = join(",", [for entry, url in local.push_audiences : "${entry}=${url}"])
    RUNWAY_CALLBACK_KMS_KEY     = google_kms_crypto_key.callback_secrets.id
    RUNWAY_BOARD_URL            = "${local.api_url}/board"
    # RUNWAY_SMTP_URL is a secret: set on AlertDispatcher only, from Secret
    # Manager (function_alert_dispatcher.tf).
    # The audience of IAP's assertions, which the board checks: its
    # backend service (lb.tf), by number.
    RUNWAY_IAP_AUDIENCE = "/projects/${data.google_project.runway.number}/global/backendServices/${google_compute_backend_service.board.generated_id}"
  }
}

data "google_project" "runway" {
  project_id = var.project
}

#
# APIs
#

locals {
  # Eventarc is deliberately absent: no function uses an Eventarc trigger
  # (Pub/Sub pushes directly to the functions, see pubsub.tf).
  services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "services" {
  for_each = local.services

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

#
# Function source: one zip of the Go module root, deployed to every function
# with its own entry point.
#

resource "google_storage_bucket" "source" {
  name                        = "${var.project}-runway-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Archived build zips (builds/<BUILD_ID>/function-source.zip, written by
  # Cloud Build) are what a rollback by var.source_object redeploys.
  lifecycle_rule {
    condition {
      age            = var.build_retention_days
      matches_prefix = ["builds/"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.services]
}

locals {
  use_existing_object = var.source_object != ""
  zip_source_dir      = !local.use_existing_object && var.source_zip == ""
  source_dir          = coalesce(var.source_dir, abspath("${path.module}/.."))
}

# Only when no prebuilt zip is given (local applies). Cloud Build zips the
# source itself (see cloudbuild.yaml); the bytes differ (so does the object
# name) but the files are the same.
data "archive_file" "source" {
  count = local.zip_source_dir ? 1 : 0

  type             = "zip"
  source_dir       = local.source_dir
  output_path      = "${path.module}/.build/function-source.zip"
  output_file_mode = "0644"
  # What scripts/package puts in Cloud Build's zip: the packages the
  # functions are built from, no tests, test helpers or tools. The HCL
  # tests check that every other package of the module is excluded here.
  excludes = [
    ".git/**",
    ".gitignore",
    "*.md",
    "Makefile",
    ".ci/**",
    ".runway/**",
    "bench/**",
    "cmd/**",
    "docs/**",
    "scripts/**",
    "shared/alerts/smtptest/**",
    "shared/callbacks/kmstest/**",
    "shared/demo/**",
    "shared/emulators/**",
    "shared/stacktest/**",
    "shared/testenv/**",
    "shared/tokens/**",
    "terraform/**",
    "emulators",
    "**/*_test.go",
  ]
}

locals {
  source_zip_path = var.source_zip != "" ? var.source_zip : one(data.archive_file.source[*].output_path)
  source_md5      = var.source_zip != "" ? filemd5(var.source_zip) : one(data.archive_file.source[*].output_md5)
}

# Named by content: a new source is a new object, which makes every function
# rebuild; the same source is the same object, which changes nothing.
resource "google_storage_bucket_object" "source" {
  count = local.use_existing_object ? 0 : 1

  bucket       = google_storage_bucket.source.name
  name         = "sources/runway-${local.source_md5}.zip"
  source       = local.source_zip_path
  content_type = "application/zip"
}

#
# Function builds: Cloud Build builds each function's container with this
# service account (build_config.service_account) instead of a default one.
#

resource "google_service_account" "builder" {
  account_id   = "runway-fn-builder"
  display_name = "Runway function builds"

  depends_on = [google_project_service.services]
}

resource "google_project_iam_member" "builder" {
  for_each = toset([
    "roles/cloudbuild.builds.builder",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.builder.member
}

resource "google_artifact_registry_repository_iam_member" "builder" {
  project    = var.project
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.builder.member
}

resource "google_storage_bucket_iam_member" "builder_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.builder.member
}

# Where the function images go, with a cleanup policy so old builds do not
# pile up (Artifact Registry storage beyond the free 0.5 GB is billed).
resource "google_artifact_registry_repository" "functions" {
  location      = var.region
  repository_id = "runway-functions"
  description   = "Container images of the Runway functions"
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "delete-older-than-30d"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "30d"
    }
  }

  cleanup_policies {
    id     = "keep-5-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  depends_on = [google_project_service.services]
}

locals {
  # What every google_cloudfunctions2_function shares besides function_env.
  function_build = {
    runtime           = var.go_runtime
    bucket            = google_storage_bucket.source.name
    object            = local.use_existing_object ? var.source_object : google_storage_bucket_object.source[0].name
    service_account   = google_service_account.builder.id
    docker_repository = google_artifact_registry_repository.functions.id
  }
}
