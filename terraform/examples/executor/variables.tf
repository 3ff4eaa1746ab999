variable "project" {
  type        = string
  description = "Project of the executor's resources (its service account and subscription)."
}

variable "runway_project" {
  type        = string
  description = "Project Runway is deployed in (where runway-launch lives). Defaults to var.project."
  default     = null
}

variable "name" {
  type        = string
  description = "Short name of the executor, e.g. tbl2tbl (used in resource names; lowercase, at most 20 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2 to 20 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "accounts" {
  type        = list(string)
  description = "The Runway accounts this executor serves (the launch messages' account attribute), e.g. [\"000099\"]. One account per executor is the safe rule: see docs/executors.md, section 8."

  validation {
    condition     = length(var.accounts) > 0 && alltrue([for a in var.accounts : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", a))])
    error_message = "accounts must list at least one account id (letters, digits, _ and -)."
  }
}

variable "configuration_type" {
  type        = string
  description = "The configuration_type this executor runs (the launch messages' configuration_type attribute), e.g. table-to-table."
}

variable "runway_api_url" {
  type        = string
  description = "Runway's API URL, https://<domain> (the api_url output of the Runway deployment)."
}

variable "push_endpoint" {
  type        = string
  description = "HTTPS endpoint of the executor if Pub/Sub should push launches to it. Empty: a pull subscription the executor consumes itself."
  default     = ""
}

variable "max_delivery_attempts" {
  type        = number
  description = "Delivery attempts before a launch is moved to runway-launch-dead-letter (5 to 100)."
  default     = 10
}
