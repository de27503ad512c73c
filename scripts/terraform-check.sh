#!/usr/bin/env bash
# Checks every Terraform module and example offline: fmt, init (local plugin mirror), validate, and test where
# tests exist. Prints one line per directory and step, then a summary; exits 1 if anything failed.
#
#   scripts/terraform-check.sh            # all modules and examples
#   TF_PLUGIN_DIR=/path scripts/terraform-check.sh
#
# Without a `terraform` binary it prints why and exits 0, so machines without Terraform skip it visibly.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tf_root="$repo_root/terraform"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"

if ! command -v terraform >/dev/null 2>&1; then
  echo "terraform-check: SKIPPED: no terraform binary on PATH (install Terraform >= 1.7 to run these checks)"
  exit 0
fi
if [[ ! -d "$plugin_dir" ]]; then
  echo "terraform-check: SKIPPED: plugin mirror $plugin_dir not found; set TF_PLUGIN_DIR (init runs offline)"
  exit 0
fi

# No CLI config is needed (the plugin dir is passed explicitly); one that is named but missing only warns.
if [[ -z "${TF_CLI_CONFIG_FILE:-}" || ! -f "$TF_CLI_CONFIG_FILE" ]]; then
  export TF_CLI_CONFIG_FILE=/dev/null
fi
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1

failures=0
passes=0
declare -a failed_steps=()

# Runs one step quietly; shows the output only when the step fails.
step() {
  local name="$1" dir="$2"
  shift 2
  local output
  if output="$(cd "$dir" && "$@" 2>&1)"; then
    printf '  ok    %-9s %s\n' "$name" "${dir#"$repo_root"/}"
    passes=$((passes + 1))
    return 0
  fi
  printf '  FAIL  %-9s %s\n' "$name" "${dir#"$repo_root"/}"
  printf '%s\n' "$output" | sed 's/^/        /'
  failures=$((failures + 1))
  failed_steps+=("$name ${dir#"$repo_root"/}")
  return 1
}

echo "terraform-check: $(terraform version | head -n 1), plugins from $plugin_dir"

step fmt "$tf_root" terraform fmt -check -recursive -diff

mapfile -t dirs < <(find "$tf_root/modules" "$tf_root/examples" -mindepth 1 -maxdepth 1 -type d | sort)
for dir in "${dirs[@]}"; do
  step init "$dir" terraform init -backend=false -plugin-dir="$plugin_dir" -input=false -no-color || continue
  step validate "$dir" terraform validate -no-color || continue
  if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
    step test "$dir" terraform test -no-color
  else
    printf '  skip  %-9s %s (no tests/*.tftest.hcl)\n' test "${dir#"$repo_root"/}"
  fi
done

echo "terraform-check: $passes passed, $failures failed (${#dirs[@]} directories)"
if ((failures > 0)); then
  printf '  failed: %s\n' "${failed_steps[@]}"
  exit 1
fi
