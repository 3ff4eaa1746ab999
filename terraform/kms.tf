# The Cloud KMS key that seals the accounts' callback signing secrets
# (docs/callbacks.md, "Where the secrets are kept"): the Access function
# envelope-encrypts each secret before storing it in Firestore, the
# CallbackDispatcher decrypts it to sign. Firestore is readable by every
# function's service account; this key is not: function_access.tf grants the
# Access function's service account encrypt only, and
# function_callback_dispatcher.tf the CallbackDispatcher's decrypt only. No
# other grant of the key, or of a Cloud KMS role on the project, is made (the
# Go tests of this directory check it).
#
# Rotation makes a new key version every 90 days; older versions keep
# opening what they sealed. Destroying the key makes the stored secrets
# unusable (admins would make new ones with rotate_callback_secret), and a key
# ring is never deleted by Google Cloud: recreating this one after a destroy
# needs `terraform import` of the ring.

resource "google_kms_key_ring" "runway" {
  name     = "runway"
  location = var.region

  depends_on = [google_project_service.services]
}

resource "google_kms_crypto_key" "callback_secrets" {
  name            = "callback-secrets"
  key_ring        = google_kms_key_ring.runway.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = "7776000s" # 90 days

  version_template {
    algorithm        = "GOOGLE_SYMMETRIC_ENCRYPTION"
    protection_level = "SOFTWARE"
  }
}
