# Provider and backend requirements.
#
# Written against the hashicorp/google provider documentation at v7.45.0
# (website/docs/r/*.html.markdown in hashicorp/terraform-provider-google).
# google-beta is needed only for google_project_service_identity (the Pub/Sub
# service agent, see pubsub.tf); archive only when Terraform zips the source
# itself (see main.tf).

terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 7.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
  }

  # Partial configuration: the bucket and prefix are given at init time, e.g.
  #   terraform init -backend-config="bucket=my-tf-state" -backend-config="prefix=runway/prod"
  backend "gcs" {}
}
