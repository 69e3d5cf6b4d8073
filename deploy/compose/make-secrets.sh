#!/bin/sh
# Random passwords and keys for compose.yaml, written once into ./secrets; existing files
# are kept, so running it again changes nothing. The folder is the owner's alone (700); the
# files themselves are readable (644) because Compose bind-mounts each one as it is and kefu
# runs as uid 10001, not as the owner.
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
chmod 700 secrets
umask 022
random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
keep_or_write() { [ -s "secrets/$1" ] || printf '%s' "$2" > "secrets/$1"; }
keep_or_write postgres_password "$(random)"
keep_or_write kefu_database_url \
  "postgresql://kefu:$(cat secrets/postgres_password)@postgres:5432/kefu"
keep_or_write kefu_admin_key "admin-$(random)"
keep_or_write kefu_secret_key "$(random)"
keep_or_write kefu_llm_api_key "$(random)"
echo "secrets in $(pwd)/secrets: postgres_password kefu_database_url kefu_admin_key" \
  "kefu_secret_key kefu_llm_api_key"
