# Firestore: the database and the composite indexes of the runs queries.

resource "google_firestore_database" "runway" {
  name        = var.firestore_database
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = var.firestore_delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # Removing the resource from Terraform never deletes the data.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.services]
}

locals {
  # Every composite index Runway's queries need (shared/store), one object
  # each: its collection, its scope, and its fields in order. Equality
  # filters first (ascending), then the field the query orders on. The Go
  # test in terraform/ compares this list with the indexes the Firestore
  # emulator reports as used by the queries of the test suite.
  #
  # The runs queries of get_last_status and get_by_status (one account's
  # runs, newest first): config_key or kind (+ environment), with or without
  # status and execution_date; and those of the board. Each index starts
  # with the run's lane (store.RunLanes; store.QueryRuns asks every lane
  # and merges), so that each lane is a range of its own: one range of
  # start_execution_date per account or configuration would take every
  # run's writes, 250 launches/s at most (docs/scale.md §1).
  run_filters = [
    # The board's runs view with no filter: every run, newest first.
    [],
    ["config_key"],
    ["config_key", "status"],
    ["config_key", "execution_date"],
    ["config_key", "status", "execution_date"],
    ["kind"],
    ["kind", "status"],
    ["kind", "execution_date"],
    ["kind", "status", "execution_date"],
    ["kind", "environment"],
    ["kind", "environment", "status"],
    ["kind", "environment", "execution_date"],
    ["kind", "environment", "status", "execution_date"],
    # The board's runs view: every type, or one configuration; by
    # environment, status and trigger (its dates bound start_execution_date).
    ["status"],
    ["trigger_type"],
    ["status", "trigger_type"],
    ["environment"],
    ["environment", "status"],
    ["environment", "trigger_type"],
    ["environment", "status", "trigger_type"],
    ["config_key", "trigger_type"],
    ["config_key", "status", "trigger_type"],
  ]

  firestore_indexes = concat(
    [for filters in local.run_filters : {
      collection = "runs"
      scope      = "COLLECTION"
      fields     = concat([["lane", "ASCENDING"]], [for f in filters : [f, "ASCENDING"]], [["start_execution_date", "DESCENDING"]])
    }],
    [
      # The Reaper's sweeps, across every account, shard by shard
      # (store.RunShards), so that no one range of increasing times takes
      # every run's writes: launches unclaimed past their deliver_by, runs
      # past their deadline, retries due, unpublished run events, runs
      # waiting long for a slot.
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["shard", "ASCENDING"], ["deliver_by", "ASCENDING"]] },
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["shard", "ASCENDING"], ["status", "ASCENDING"], ["deadline", "ASCENDING"]] },
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["shard", "ASCENDING"], ["status", "ASCENDING"], ["retry_at", "ASCENDING"]] },
      { collection = "events", scope = "COLLECTION_GROUP", fields = [["shard", "ASCENDING"], ["at", "ASCENDING"]] },
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["shard", "ASCENDING"], ["queued", "ASCENDING"], ["queued_at", "ASCENDING"]] },
      # The runs waiting for a slot of max_active_runs of a configuration,
      # oldest first.
      { collection = "runs", scope = "COLLECTION", fields = [["config_key", "ASCENDING"], ["queued", "ASCENDING"], ["queued_at", "ASCENDING"]] },
      # The Scheduler's due configurations, shard by shard (store.ScheduleShards).
      { collection = "configurations", scope = "COLLECTION_GROUP", fields = [["schedule_shard", "ASCENDING"], ["next_tick", "ASCENDING"]] },
      # The workflows of an environment, read when a workflow is deployed,
      # and list_configurations's filters (by document key).
      { collection = "configurations", scope = "COLLECTION", fields = [["environment", "ASCENDING"], ["kind", "ASCENDING"]] },
      { collection = "configurations", scope = "COLLECTION", fields = [["activated", "ASCENDING"], ["environment", "ASCENDING"]] },
      { collection = "configurations", scope = "COLLECTION", fields = [["activated", "ASCENDING"], ["kind", "ASCENDING"]] },
      { collection = "configurations", scope = "COLLECTION", fields = [["activated", "ASCENDING"], ["environment", "ASCENDING"], ["kind", "ASCENDING"]] },
    ],
  )
}

resource "google_firestore_index" "runway" {
  for_each = {
    for index in local.firestore_indexes :
    "${index.collection}/${index.scope}/${join(",", [for f in index.fields : join(" ", f)])}" => index
  }

  project     = var.project
  database    = google_firestore_database.runway.name
  collection  = each.value.collection
  query_scope = each.value.scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

# Single-field indexes: Firestore indexes every field of every document, in
# ascending and descending order, unless it is exempted; each index entry is
# a write, and an index of increasing values (times, time-prefixed ids) is a
# hot spot past ~500 writes/s (docs/scale.md). These fields are filtered or
# ordered on by no query (a Go test, terraform/fields_test.go, holds this
# list to shared/store's fields and queries): they are not indexed. A map
# field's subfields go with it.
locals {
  unindexed_fields = {
    configurations = [
      "account", "archived", "catchup", "configuration_type", "definition", "job_id", "last_tick",
      "max_active_runs", "retries", "retry_delay_ms", "schedule_interval", "start_date",
      "timeout_ms", "updated_at", "updated_by", "version", "workflow",
    ]
    events = [
      "archived", "by", "definition", "detail", "from", "publish_claimed_at", "published", "to",
      "type", "version",
    ]
    incidents = [
      "event_id", "run_id",
    ]
    met = [
      "cycle", "job", "run_id",
    ]
    members = [
      "email", "updated_at", "updated_by",
    ]
    runs = [
      "account", "admitted_at", "attempt", "callback_url", "claim_caller", "claimed_by",
      "configuration_type", "deliveries", "end_date", "error", "heartbeats", "idempotency_key",
      "job_id", "last_heartbeat", "last_update_date", "max_active_runs", "metrics", "parameters",
      "parent_run_id", "published_at", "pubsub_message_id", "request_hash", "retries",
      "retry_delay_ms", "retry_run_id", "run_id", "slot", "started_by", "timeout_ms",
      "trigger_run_ids",
    ]
    settings = [
      "allowed_hosts", "secrets", "updated_at", "updated_by",
    ]
    slots = [
      "run_id", "run_key", "since",
    ]
    workflow_state = [
      "cycle", "cycle_started_at", "last_fired", "last_reset_by", "met",
    ]
  }

  # Fields only queried together with an equality on a field before them
  # (the shard, the lane, the configuration's key), which composite indexes
  # serve: they need no single-field index. Each is a time that increases, so a
  # single-field index of it would be a range every run of the account
  # writes into (bench/design-limits.md).
  composite_only_fields = {
    runs = ["deadline", "deliver_by", "queued_at", "retry_at", "start_execution_date"]
  }

  # Deleted by Firestore when their expire_at passes: a run
  # RUNWAY_RETENTION_DAYS after its launch, an event as long after it was
  # made, a workflow's met job as long after the success that met it
  # (shared/store).
  ttl_collections = ["runs", "events", "met"]
}

resource "google_firestore_field" "unindexed" {
  for_each = merge([
    for collection, fields in local.unindexed_fields : {
      for field in fields : "${collection}.${field}" => { collection = collection, field = field }
    }
  ]...)

  project    = var.project
  database   = google_firestore_database.runway.name
  collection = each.value.collection
  field      = each.value.field

  # No index, in either scope.
  index_config {}
}

resource "google_firestore_field" "composite_only" {
  for_each = merge([
    for collection, fields in local.composite_only_fields : {
      for field in fields : "${collection}.${field}" => { collection = collection, field = field }
    }
  ]...)

  project    = var.project
  database   = google_firestore_database.runway.name
  collection = each.value.collection
  field      = each.value.field

  # No single-field index: the composite indexes serve its queries.
  index_config {}
}

resource "google_firestore_field" "expire_at" {
  for_each = toset(local.ttl_collections)

  project    = var.project
  database   = google_firestore_database.runway.name
  collection = each.key
  field      = "expire_at"

  ttl_config {}
  # A TTL field is not queried: no index either.
  index_config {}
}
