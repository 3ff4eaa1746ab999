output "service_account_email" {
  description = "The executor's identity, in Pub/Sub and in Runway."
  value       = google_service_account.executor.email
}

output "subscription" {
  description = "The executor's subscription on runway-launch."
  value       = google_pubsub_subscription.launches.id
}

output "runway_membership" {
  description = "What an admin of each account must run once so that the executor may report statuses (role executer)."
  value       = <<-EOT
    The executor reports statuses as ${google_service_account.executor.email}.
    An admin of each account it runs adds it as an executer:

    curl --request POST \
      --header "content-type:application/json" \
      --header "Authorization: Bearer $(gcloud auth print-identity-token --audiences=${var.runway_api_url})" \
      --data '{"action":"add_member","account":"<ACCOUNT>","email":"${google_service_account.executor.email}","role":"executer"}' \
      "${var.runway_api_url}/v1/access"

    The executor then calls ${var.runway_api_url}/v1/dag/status with a Google ID
    token of its service account whose audience is ${var.runway_api_url}.
  EOT
}
