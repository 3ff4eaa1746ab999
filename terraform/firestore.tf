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
  # status and execution_date; and those of the board.
  run_filters = [
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
      fields     = concat([for f in filters : [f, "ASCENDING"]], [["start_execution_date", "DESCENDING"]])
    }],
    [
      # The Reaper's sweeps, across every account: unpublished runs, runs
      # past their deadline, retries due, unpublished run events.
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["published", "ASCENDING"], ["start_execution_date", "ASCENDING"]] },
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["status", "ASCENDING"], ["deadline", "ASCENDING"]] },
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["status", "ASCENDING"], ["retry_at", "ASCENDING"]] },
      { collection = "events", scope = "COLLECTION_GROUP", fields = [["published", "ASCENDING"], ["at", "ASCENDING"]] },
      # The runs waiting for a slot of max_active_runs: a configuration's,
      # oldest first, and, for the Reaper, those waiting long.
      { collection = "runs", scope = "COLLECTION", fields = [["config_key", "ASCENDING"], ["queued", "ASCENDING"], ["queued_at", "ASCENDING"]] },
      { collection = "runs", scope = "COLLECTION_GROUP", fields = [["queued", "ASCENDING"], ["queued_at", "ASCENDING"]] },
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
