output "api_url" {
  description = "The API's URL (also the audience ID tokens must be issued for)."
  value       = local.api_url
}

output "board_url" {
  description = "The run board, behind Identity-Aware Proxy (docs/board.md)."
  value       = "${local.api_url}/board/"
}

output "lb_ip" {
  description = "The load balancer's IP address: point the domain's DNS A record here."
  value       = google_compute_global_address.runway.address
}

output "dns_record" {
  description = "The DNS record the managed certificate waits for."
  value       = "${var.domain}. A ${google_compute_global_address.runway.address}"
}

output "launch_topic" {
  description = "Topic launch messages are published to (executors subscribe here)."
  value       = google_pubsub_topic.runway["launch"].name
}

output "run_events_topic" {
  description = "Topic run status changes are published to."
  value       = google_pubsub_topic.runway["run_events"].name
}

output "dead_letter_topics" {
  description = "Dead-letter topic of each topic (key: topic name)."
  value       = { for k, name in local.topic_names : name => google_pubsub_topic.dead_letter[k].name }
}

output "executor_service_account_email" {
  description = "Service account the ReferenceExecutor reports run statuses as (null when it is not enabled). Make it a member with role executer of each account it runs: POST /v1/access {\"action\":\"add_member\",\"account\":\"...\",\"email\":\"<this>\",\"role\":\"executer\"}."
  value       = one(google_service_account.reference_executor[*].email)
}

output "function_service_uris" {
  description = "run.app URL of each function (the HTTP ones only answer through the load balancer)."
  value = merge(
    { for entry, r in local.lb_routes : entry => r.uri },
    { Board = google_cloudfunctions2_function.board.service_config[0].uri },
    {
      Reaper          = google_cloudfunctions2_function.reaper.service_config[0].uri
      Scheduler       = google_cloudfunctions2_function.scheduler.service_config[0].uri
      WorkflowTrigger = google_cloudfunctions2_function.workflow_trigger.service_config[0].uri
    },
    { for f in google_cloudfunctions2_function.reference_executor : "ReferenceExecutor" => f.service_config[0].uri },
  )
}

output "source_bucket" {
  description = "Bucket holding the function source zips (sources/ managed by Terraform, builds/<BUILD_ID>/ archived by Cloud Build)."
  value       = google_storage_bucket.source.name
}

output "source_object" {
  description = "Source object this apply deployed (in source_bucket). To roll back, re-apply with -var source_object=builds/<BUILD_ID>/function-source.zip of an earlier build."
  value       = local.function_build.object
}
