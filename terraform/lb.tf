# The HTTPS host: a global external Application Load Balancer with one
# serverless NEG and backend service per function, routed by path.
#
#   client --HTTPS--> forwarding rule --> target proxy (managed cert)
#          --> URL map (paths below) --> backend service --> serverless NEG
#          --> the function's Cloud Run service (ingress ALLOW_INTERNAL_AND_GCLB)
#
# The board's backend service (/board/*) has Identity-Aware Proxy in front.
#
# The functions authenticate callers themselves (Google ID tokens whose
# audience is https://<domain>, see RUNWAY_AUDIENCES), so at the Cloud Run
# layer they accept unauthenticated requests (roles/run.invoker for allUsers)
# and their ingress only lets the load balancer (and internal traffic) in.

locals {
  # The route table of the host: function entry point => its URL map paths
  # and its function's Cloud Run service (projects/P/locations/R/services/S)
  # and URL. Mirrors runway.Routes (routes.go); the Go cross-check compares
  # the two. Paths are exact unless they end in /*.
  lb_routes = {
    DagLaunch = {
      slug    = "dag-launch"
      paths   = ["/v1/dag/launch"]
      service = google_cloudfunctions2_function.dag_launch.service_config[0].service
      uri     = google_cloudfunctions2_function.dag_launch.service_config[0].uri
    }
    DagStatus = {
      slug    = "dag-status"
      paths   = ["/v1/dag/status"]
      service = google_cloudfunctions2_function.dag_status.service_config[0].service
      uri     = google_cloudfunctions2_function.dag_status.service_config[0].uri
    }
    WorkflowStatus = {
      slug    = "workflow-status"
      paths   = ["/v1/workflow/status"]
      service = google_cloudfunctions2_function.workflow_status.service_config[0].service
      uri     = google_cloudfunctions2_function.workflow_status.service_config[0].uri
    }
    ConfigurationStatus = {
      slug    = "configuration-status"
      paths   = ["/v1/configuration/status"]
      service = google_cloudfunctions2_function.configuration_status.service_config[0].service
      uri     = google_cloudfunctions2_function.configuration_status.service_config[0].uri
    }
    Configuration = {
      slug    = "configuration"
      paths   = ["/v1/configuration"]
      service = google_cloudfunctions2_function.configuration.service_config[0].service
      uri     = google_cloudfunctions2_function.configuration.service_config[0].uri
    }
    Access = {
      slug    = "access"
      paths   = ["/v1/access"]
      service = google_cloudfunctions2_function.access.service_config[0].service
      uri     = google_cloudfunctions2_function.access.service_config[0].uri
    }
    Executions = {
      slug    = "executions"
      paths   = ["/rest/v1/executions/*", "/plugins/dashboard/rest/v1/flows/*"]
      service = google_cloudfunctions2_function.executions.service_config[0].service
      uri     = google_cloudfunctions2_function.executions.service_config[0].uri
    }
  }

  # Where requests for any other path (or another host) go. Executions only
  # reads, so a stray request there cannot change anything; it should answer
  # 404 for paths that are not its own.
  lb_default_route = "Executions"

  # The board (runway.Routes' Board, IAP) is not in lb_routes, whose
  # functions anyone may invoke: Identity-Aware Proxy guards its backend
  # service, below. Its NEG names its Cloud Run service, which is named as
  # the function, known before the function exists: the function's
  # environment (RUNWAY_IAP_AUDIENCE) names the backend service, which
  # must not depend on the function.
  board_function = "runway-board"
  board_paths    = ["/board/*"]
}

# Unauthenticated invocation at the Cloud Run layer. For gen2 functions the
# invoker role is roles/run.invoker on the underlying Cloud Run service
# (google_cloudfunctions2_function_iam_* rejects roles/run.invoker).
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = local.lb_routes

  project  = var.project
  location = var.region
  name     = each.value.service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# A gen2 function is served by a Cloud Run service: its NEG uses the
# cloud_run block (the cloud_function block is for 1st gen functions).
resource "google_compute_region_network_endpoint_group" "runway" {
  for_each = local.lb_routes

  name                  = "runway-${each.value.slug}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = basename(each.value.service)
  }

  depends_on = [google_project_service.services]
}

resource "google_compute_backend_service" "runway" {
  for_each = local.lb_routes

  name                  = "runway-${each.value.slug}"
  load_balancing_scheme = "EXTERNAL_MANAGED"

  backend {
    group = google_compute_region_network_endpoint_group.runway[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

# The board, behind Identity-Aware Proxy. IAP signs people in with the
# OAuth client of var.iap_oauth2_client_id (the one of the project's OAuth
# consent screen, its brand), or Google's own client when none is given
# (people of the project's organization only); var.board_members may pass.
# It calls the function with its service agent's ID token, the only
# invoker; the function checks IAP's assertion again, for this backend
# service (RUNWAY_IAP_AUDIENCE), and each person's role on the account.
resource "google_compute_region_network_endpoint_group" "board" {
  name                  = "runway-board"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = local.board_function
  }

  depends_on = [google_project_service.services]
}

resource "google_compute_backend_service" "board" {
  name                  = "runway-board"
  load_balancing_scheme = "EXTERNAL_MANAGED"

  backend {
    group = google_compute_region_network_endpoint_group.board.id
  }

  iap {
    enabled              = true
    oauth2_client_id     = var.iap_oauth2_client_id
    oauth2_client_secret = var.iap_oauth2_client_secret
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

# IAP's service agent, which invokes the board for the people it signed in.
resource "google_project_service_identity" "iap" {
  provider = google-beta

  project = var.project
  service = "iap.googleapis.com"

  depends_on = [google_project_service.services]
}

resource "google_cloud_run_v2_service_iam_member" "board_iap" {
  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.board.service_config[0].service
  role     = "roles/run.invoker"
  member   = google_project_service_identity.iap.member
}

resource "google_iap_web_backend_service_iam_member" "board" {
  for_each = toset(var.board_members)

  project             = var.project
  web_backend_service = google_compute_backend_service.board.name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value
}

resource "google_compute_url_map" "runway" {
  name            = "runway"
  default_service = google_compute_backend_service.runway[local.lb_default_route].id

  host_rule {
    hosts        = [var.domain]
    path_matcher = "runway"
  }

  path_matcher {
    name            = "runway"
    default_service = google_compute_backend_service.runway[local.lb_default_route].id

    dynamic "path_rule" {
      for_each = local.lb_routes
      content {
        paths   = path_rule.value.paths
        service = google_compute_backend_service.runway[path_rule.key].id
      }
    }

    path_rule {
      paths   = local.board_paths
      service = google_compute_backend_service.board.id
    }
  }
}

resource "google_compute_global_address" "runway" {
  name = "runway-lb"

  depends_on = [google_project_service.services]
}

# A new domain makes a new certificate, created before the old one is
# detached. Provisioning starts once the domain's A record points at the
# address and can take a while (status PROVISIONING until then).
resource "google_compute_managed_ssl_certificate" "runway" {
  name = "runway-${substr(sha1(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_project_service.services]
}

resource "google_compute_target_https_proxy" "runway" {
  name             = "runway"
  url_map          = google_compute_url_map.runway.id
  ssl_certificates = [google_compute_managed_ssl_certificate.runway.id]
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "runway-https"
  ip_protocol           = "TCP"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  port_range            = "443"
  ip_address            = google_compute_global_address.runway.address
  target                = google_compute_target_https_proxy.runway.id
}

#
# Optional port 80 listener that redirects to HTTPS.
#

resource "google_compute_url_map" "http_redirect" {
  count = var.enable_http_redirect ? 1 : 0

  name = "runway-http-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "PERMANENT_REDIRECT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "http_redirect" {
  count = var.enable_http_redirect ? 1 : 0

  name    = "runway-http-redirect"
  url_map = google_compute_url_map.http_redirect[0].id
}

resource "google_compute_global_forwarding_rule" "http_redirect" {
  count = var.enable_http_redirect ? 1 : 0

  name                  = "runway-http"
  ip_protocol           = "TCP"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  port_range            = "80"
  ip_address            = google_compute_global_address.runway.address
  target                = google_compute_target_http_proxy.http_redirect[0].id
}
