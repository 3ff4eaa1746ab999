#
# Where and what
#

variable "project" {
  type        = string
  description = "Google Cloud project ID Runway is deployed to (one Runway per project)."
}

variable "region" {
  type        = string
  description = "Region of the functions, serverless NEGs, Scheduler job and source bucket."
  default     = "europe-west1"
}

variable "environment_name" {
  type        = string
  description = "Name of this deployment (prod, staging, demo...): used in labels and descriptions only."
  default     = "prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.environment_name))
    error_message = "environment_name must be lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "domain" {
  type        = string
  description = "Host name the API is served on, without scheme (e.g. runway.example.com). Its DNS A record must point at the lb_ip output for the managed certificate to provision."

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain))
    error_message = "domain must be a lowercase host name such as runway.example.com, without scheme or path."
  }
}

variable "labels" {
  type        = map(string)
  description = "Extra labels put on every resource that supports them."
  default     = {}
}

#
# Runway configuration (the RUNWAY_* environment of every function)
#

variable "api_audiences" {
  type        = list(string)
  description = "Extra accepted ID token audiences. https://<domain> is always accepted; add e.g. an old host name during a migration."
  default     = []
}

variable "admins" {
  type        = list(string)
  description = "Emails of the platform admins (RUNWAY_ADMINS): admins of every account."
  default     = []

  validation {
    condition     = alltrue([for a in var.admins : can(regex("^[^@,\\s]+@[^@,\\s]+$", a))])
    error_message = "admins must be email addresses (no commas or spaces)."
  }
}

variable "log_level" {
  type        = string
  description = "RUNWAY_LOG_LEVEL: debug, info, warning or error."
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warning", "error"], var.log_level)
    error_message = "log_level must be debug, info, warning or error."
  }
}

variable "publish_timeout" {
  type        = string
  description = "RUNWAY_PUBLISH_TIMEOUT: how long a launch waits for its publish before leaving it to the Reaper (a Go duration)."
  default     = "10s"
}

variable "redeliver_after" {
  type        = string
  description = "RUNWAY_REDELIVER_AFTER: how long a launch message may go unclaimed by an executor before the Reaper publishes it again, then twice as long, up to 5 publishes (a Go duration)."
  default     = "1m"
}

variable "firestore_database" {
  type        = string
  description = "Firestore database ID (RUNWAY_FIRESTORE_DATABASE). Only one database per project gets the Firestore free tier."
  default     = "(default)"
}

variable "firestore_location" {
  type        = string
  description = "Firestore location (a region such as europe-west1, or a multi-region such as eur3 or nam5). Defaults to var.region. Cannot be changed after creation."
  default     = null
}

variable "firestore_delete_protection" {
  type        = bool
  description = "Enable Firestore delete protection on the database."
  default     = true
}

#
# Functions
#

variable "go_runtime" {
  type = string
  # go126 is listed for Go 1.26 in https://docs.cloud.google.com/run/docs/runtimes/go
  # (stack google-24). go.mod says `go 1.26.0`; keep this in step with it.
  description = "Cloud Run functions runtime ID for the Go version in go.mod."
  default     = "go126"

  validation {
    condition     = can(regex("^go[0-9]{3}$", var.go_runtime))
    error_message = "go_runtime must be a runtime ID such as go126."
  }
}

variable "min_instance_count" {
  type        = number
  description = "Minimum instances of each HTTP function. 0 costs nothing when idle but cold-starts; 1 keeps one warm instance per function (billed)."
  default     = 0
}

variable "max_instance_count" {
  type        = number
  description = "Cap on every function's maximum instances, such as a project's quota; each function's own figure is in local.function_scaling (main.tf, docs/scale.md)."
  default     = 100
}

variable "max_instance_request_concurrency" {
  type        = number
  description = "Concurrent requests per instance of the HTTP functions (values above 1 need at least 1 vCPU)."
  default     = 80
}

variable "function_memory" {
  type        = string
  description = "Memory of each function instance."
  default     = "512Mi"
}

variable "function_cpu" {
  type        = string
  description = "vCPUs of each function instance."
  default     = "1"
}

variable "enable_reference_executor" {
  type        = bool
  description = "Deploy ReferenceExecutor, which executes launches from runway-launch itself (demo and test environments)."
  default     = false
}

variable "reference_executor_accounts" {
  type        = list(string)
  description = "The accounts whose launches ReferenceExecutor executes (required when it is enabled): its subscription filters on attributes.account, so that it never serves every account. A filter cannot be changed after the subscription is created (changing it replaces the subscription)."
  default     = []

  validation {
    condition     = alltrue([for a in var.reference_executor_accounts : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", a))])
    error_message = "reference_executor_accounts must be account ids (letters, digits, _ and -)."
  }
}

variable "reference_executor_filter" {
  type        = string
  description = "An extra Pub/Sub filter of the ReferenceExecutor subscription, ANDed with the accounts and message types, e.g. attributes.configuration_type = \"table-to-table\". Empty for none."
  default     = ""
}

#
# Source
#

variable "source_zip" {
  type        = string
  description = "Path to a zip of the Go module root built beforehand (Cloud Build passes the one it built). Empty: Terraform zips source_dir itself."
  default     = ""
}

variable "source_dir" {
  type        = string
  description = "Go module root to zip when source_zip and source_object are empty. Empty means the parent of this directory."
  default     = ""
}

variable "source_object" {
  type        = string
  description = "Name of an object already in the source bucket to deploy instead, for a rollback: builds/<BUILD_ID>/function-source.zip of an earlier Cloud Build. Overrides source_zip and source_dir."
  default     = ""

  validation {
    # sources/ objects belong to Terraform, which deletes them when they stop
    # being the current source: never point a deployment at one.
    condition     = !startswith(var.source_object, "sources/")
    error_message = "source_object must not be under sources/ (Terraform-managed); use an archived builds/<BUILD_ID>/function-source.zip."
  }
}

variable "build_retention_days" {
  type        = number
  description = "Days Cloud Build's archived source zips (builds/ prefix of the source bucket) are kept, i.e. how far back a rollback by source_object can go."
  default     = 90
}

#
# Pub/Sub delivery to the push-triggered functions
#

variable "push_max_delivery_attempts" {
  type        = number
  description = "Delivery attempts before a message is forwarded to the dead-letter topic (9 to 100: the CallbackDispatcher and AlertDispatcher make up to 8 attempts of their own)."
  default     = 10

  validation {
    condition     = var.push_max_delivery_attempts >= 9 && var.push_max_delivery_attempts <= 100
    error_message = "push_max_delivery_attempts must be between 9 and 100: Pub/Sub allows 5 to 100, and the CallbackDispatcher and AlertDispatcher need more than their 8 attempts."
  }
}

variable "push_minimum_backoff" {
  type        = string
  description = "Minimum delay between redeliveries of a nacked message (exponential backoff, 0s to 600s)."
  default     = "10s"
}

variable "push_maximum_backoff" {
  type        = string
  description = "Maximum delay between redeliveries of a nacked message (0s to 600s)."
  default     = "600s"
}

#
# Reaper and Scheduler schedules
#

variable "reaper_schedule" {
  type        = string
  description = "Cron schedule of the Reaper (Cloud Scheduler, unix-cron format)."
  default     = "* * * * *"
}

variable "scheduler_schedule" {
  type        = string
  description = "Cron schedule of the Scheduler, which launches the configurations' due ticks: every minute, the finest a schedule_interval can be."
  default     = "* * * * *"
}

#
# Load balancer
#

variable "enable_http_redirect" {
  type        = bool
  description = "Also listen on port 80 and redirect to HTTPS (one more forwarding rule; API clients should use HTTPS directly)."
  default     = false
}

#
# The board (Identity-Aware Proxy)
#

variable "iap_oauth2_client_id" {
  type        = string
  description = "OAuth client ID IAP signs people in to the board with: a client of the project's OAuth consent screen (its brand), made in the console (APIs & Services > Credentials), since Google's IAP OAuth Admin API is no more. Null: Google's own client, for people of the project's organization only."
  default     = null
}

variable "iap_oauth2_client_secret" {
  type        = string
  description = "Secret of iap_oauth2_client_id."
  default     = null
  sensitive   = true

  validation {
    condition     = (var.iap_oauth2_client_secret == null) == (var.iap_oauth2_client_id == null)
    error_message = "iap_oauth2_client_id and iap_oauth2_client_secret go together: set both, or neither for Google's own client."
  }
}

variable "board_members" {
  type        = list(string)
  description = "Who IAP lets through to the board (roles/iap.httpsResourceAccessor): user:, group: or domain: principals. Their role on each account is Runway's, as in the API."
  default     = []

  validation {
    condition     = alltrue([for m in var.board_members : can(regex("^(user|group|domain|serviceAccount):", m))])
    error_message = "board_members must be IAM principals such as user:ada@example.com, group:data@example.com or domain:example.com."
  }
}

variable "service_account_keys_url" {
  description = "Where service accounts' public keys are published ({email} is replaced), to verify the tokens they sign themselves."
  type        = string
  default     = "https://www.googleapis.com/service_accounts/v1/jwk/{email}"
}

variable "store_timeout" {
  description = "How long a Firestore operation may take before the request answers 503 (RUNWAY_STORE_TIMEOUT)."
  type        = string
  default     = "10s"
}

variable "launch_rate_limit" {
  description = "Launches per caller and per function instance, e.g. 20/s or 600/m; 0 for no limit (RUNWAY_LAUNCH_RATE_LIMIT)."
  type        = string
  default     = "20/s"
}

variable "rate_limit" {
  description = "Requests per caller and per function instance, for the actions without a rate of their own, e.g. 100/s; 0 for no limit (RUNWAY_RATE_LIMIT)."
  type        = string
  default     = "100/s"
}

variable "report_rate_limit" {
  description = "report_run_status requests per executor and per function instance (RUNWAY_REPORT_RATE_LIMIT)."
  type        = string
  default     = "1000/s"
}

variable "max_waits_per_caller" {
  description = "check_run_status requests with wait_seconds one caller may hold at once per instance (RUNWAY_MAX_WAITS_PER_CALLER)."
  type        = number
  default     = 10
}

variable "retention_days" {
  description = "Days runs and their events are kept before Firestore's TTL policy deletes them (RUNWAY_RETENTION_DAYS)."
  type        = number
  default     = 400
}
