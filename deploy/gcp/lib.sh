# Shared by deploy/gcp/bootstrap.sh and deploy/gcp/vm.sh (sourced; they set dry_run first).
# shellcheck shell=bash
dry_run=${dry_run:-false}

say() { printf '\n== %s\n' "$*"; }

# Run a command, or print it (shell-quoted, one line) in a dry run.
run() {
  if $dry_run; then
    printf '%q ' "$@" | sed 's/ $/\n/'
  else
    "$@"
  fi
}

# True when a describe/list command finds the resource. In a dry run nothing exists yet.
exists() {
  $dry_run && return 1
  "$@" >/dev/null 2>&1
}

# Print a command's output; in a dry run print the command and stand in a placeholder.
value_of() {
  local placeholder=$1
  shift
  if $dry_run; then
    printf '%q ' "$@" | sed 's/ $/\n/' >&2
    echo "$placeholder"
  else
    "$@"
  fi
}
