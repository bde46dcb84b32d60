#!/usr/bin/env bash
# etcd-tandem-role.sh PREFIX USER — the etcd user a Tandem cluster logs in as, limited to the
# cluster's key prefix, and etcd authentication turned on (docs/security.md, "etcd").
#
#   export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379
#   export ETCDCTL_CACERT=etcd-pki/ca.crt ETCDCTL_CERT=etcd-pki/admin.crt ETCDCTL_KEY=etcd-pki/admin.key
#   ROOT_PASSWORD_FILE=etcd-root-password USER_PASSWORD_FILE=tandem-prod-password \
#     deploy/systemd/etcd-tandem-role.sh /tandem/prod tandem-prod
#
# PREFIX is the node files' cluster.prefix; tandemd keeps every key below PREFIX/ (it adds the
# slash, src/daemon.ts; layout in src/cluster/keys.ts), so the role gets readwrite on exactly
# "PREFIX/" — /tandem/prod2/ stays out of reach. USER gets that role and nothing else; put its
# password (USER_PASSWORD_FILE, one line) on every node as cluster.etcd.passwordFile (0600,
# owned by tandem) and USER as cluster.etcd.user.
#
# etcd refuses `auth enable` without a root user: the first run creates root with the password
# in ROOT_PASSWORD_FILE; later runs (another cluster sharing the etcd) log in as root with it
# (ETCDCTL_USER). The client certificate (ETCDCTL_CERT) is any one from etcd's CA
# (`tandemctl certs issue client admin --role admin --dir etcd-pki`). Passwords are passed on
# standard input and in the environment, never on a command line (ps would show them).
# Needs etcdctl (Debian package etcd-client). Exit: 0 done, 1 an etcdctl call failed, 2 usage.
set -euo pipefail

die() { echo "etcd-tandem-role: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: etcd-tandem-role.sh PREFIX USER (see the comment at the top)"
PREFIX=$1
USER_NAME=$2
case "$PREFIX" in /?*) ;; *) die "PREFIX must start with / (the node files' cluster.prefix), got '$PREFIX'" ;; esac
PREFIX=${PREFIX%/}/
case "$USER_NAME" in ''|*[!A-Za-z0-9._-]*|root) die "USER: letters, digits, '.', '_', '-' (and not root), got '$USER_NAME'" ;; esac
ROLE=$USER_NAME
command -v etcdctl >/dev/null 2>&1 || die "etcdctl not found: apt-get install etcd-client"
[ -n "${ROOT_PASSWORD_FILE:-}" ] && [ -r "$ROOT_PASSWORD_FILE" ] || die "ROOT_PASSWORD_FILE: a readable file with etcd's root password"
[ -n "${USER_PASSWORD_FILE:-}" ] && [ -r "$USER_PASSWORD_FILE" ] || die "USER_PASSWORD_FILE: a readable file with $USER_NAME's password"
export ETCDCTL_API=3
ROOT_PW=$(head -n 1 "$ROOT_PASSWORD_FILE")
USER_PW=$(head -n 1 "$USER_PASSWORD_FILE")
[ -n "$ROOT_PW" ] && [ -n "$USER_PW" ] || die "empty password file"

e() { etcdctl "$@"; }
# Auth already on (an earlier run, or another cluster sharing the etcd): `user list` needs root
# then, so it fails without a user; everything below runs as root.
AUTH_ON=0
if ! e user list >/dev/null 2>&1; then
  export ETCDCTL_USER="root:$ROOT_PW"
  e user list >/dev/null || { echo "etcd-tandem-role: etcd refuses root with ROOT_PASSWORD_FILE's password" >&2; exit 1; }
  AUTH_ON=1
fi
if [ "$AUTH_ON" = 0 ]; then
  e user get root >/dev/null 2>&1 || e user add root --interactive=false <<<"$ROOT_PW" >/dev/null
  e role get root >/dev/null 2>&1 || e role add root >/dev/null
  e user grant-role root root >/dev/null
fi
e role get "$ROLE" >/dev/null 2>&1 || e role add "$ROLE"
e role grant-permission "$ROLE" --prefix=true readwrite "$PREFIX"
e user get "$USER_NAME" >/dev/null 2>&1 || e user add "$USER_NAME" --interactive=false <<<"$USER_PW" >/dev/null
e user grant-role "$USER_NAME" "$ROLE"
if [ "$AUTH_ON" = 0 ]; then
  e auth enable
  echo "etcd-tandem-role: authentication enabled; etcdctl now needs ETCDCTL_USER=root:… (or --user)"
  export ETCDCTL_USER="root:$ROOT_PW"
fi
e role get "$ROLE"
echo "etcd-tandem-role: user $USER_NAME may read and write $PREFIX only (cluster.etcd.user: $USER_NAME)"
