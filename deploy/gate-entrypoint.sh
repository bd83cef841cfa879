#!/bin/sh
# The gate container's entrypoint: secrets handed over as files (compose or Kubernetes secrets) become the
# variables the gate reads. For each NAME below, NAME_FILE names a file whose content (without its final
# newline) becomes NAME; then the command runs. The gate itself reads the audit key and the session secret
# from TRUSTCENTER_AUDIT_KEY and TRUSTCENTER_GATE_SECRET (or from 0600 files in its state folder, which a
# secret mounted from elsewhere is not), and PostgreSQL's client reads PGPASSWORD.
set -eu

for name in TRUSTCENTER_AUDIT_KEY TRUSTCENTER_GATE_SECRET TRUSTCENTER_DB PGPASSWORD TRUSTCENTER_SMTP_URL; do
    eval "file=\${${name}_FILE:-}"
    [ -n "$file" ] || continue
    eval "already=\${${name}+set}"
    if [ -n "$already" ]; then
        echo "trustcenter-entrypoint: both $name and ${name}_FILE are set; keep one" >&2
        exit 64
    fi
    if [ ! -r "$file" ]; then
        echo "trustcenter-entrypoint: ${name}_FILE names $file, which user $(id -u) cannot read;" \
             "give the secret file to that user (chown $(id -u) FILE; chmod 0400 FILE)" >&2
        exit 66
    fi
    value=$(cat "$file")
    export "$name=$value"
    unset "${name}_FILE"
done

exec "$@"
