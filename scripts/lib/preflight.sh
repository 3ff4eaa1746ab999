# shellcheck shell=bash
# Sourced by scripts/dev.sh and scripts/test.sh: checks that the machine has
# what Runway's local stack (and its tests) need and installs what is
# missing, or stops with the exact command to run.

die() {
  echo "error: $*" >&2
  exit 1
}

# run_as_root runs a command as root, directly or through sudo without a
# password prompt; it fails if neither is possible.
run_as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo "$@"
  else
    return 1
  fi
}

require_go() {
  command -v go >/dev/null || die "Go is required (https://go.dev/doc/install)"
}

# require_emulators makes sure Java and the Firestore and Pub/Sub emulators
# are installed.
require_emulators() {
  command -v gcloud >/dev/null ||
    die "the Google Cloud CLI is required (https://cloud.google.com/sdk/docs/install)"
  local sdk_root packages=() components=()
  sdk_root=$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)
  if ! command -v java >/dev/null; then
    packages+=(default-jre-headless)
  fi
  if [ ! -d "$sdk_root/platform/cloud-firestore-emulator" ]; then
    packages+=(google-cloud-cli-firestore-emulator)
    components+=(cloud-firestore-emulator)
  fi
  if [ ! -d "$sdk_root/platform/pubsub-emulator" ]; then
    packages+=(google-cloud-cli-pubsub-emulator)
    components+=(pubsub-emulator beta)
  fi
  [ ${#packages[@]} -eq 0 ] && return 0

  if dpkg -s google-cloud-cli >/dev/null 2>&1 || ! command -v java >/dev/null; then
    # gcloud (or Java) came from Debian packages: install the rest the same way.
    echo "installing ${packages[*]} ..." >&2
    run_as_root apt-get install -y "${packages[@]}" >&2 ||
      die "could not install the emulators; run: sudo apt-get install -y ${packages[*]}"
  else
    echo "installing gcloud components ${components[*]} ..." >&2
    gcloud components install --quiet "${components[@]}" >&2 ||
      die "could not install the emulators; run: gcloud components install ${components[*]}"
  fi
}

# require_chromium makes sure Debian's chromium is installed: the board's
# browser test (functions/board) drives it headless, and fails without it.
require_chromium() {
  command -v chromium >/dev/null && return 0
  echo "installing chromium, for the board's browser test ..." >&2
  # A fresh container may have no package lists yet: update, then retry.
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2 ||
    { run_as_root apt-get update >&2 &&
      run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2; } ||
    die "could not install Chromium, which the board's browser test drives; run: sudo apt-get install -y chromium"
}
