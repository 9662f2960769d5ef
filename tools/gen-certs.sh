#!/usr/bin/env bash
# Creates a throwaway test CA and a server certificate for loopgate-test-gateway:
#   DIR/ca.pem, DIR/ca.key          "loopgate test CA", EC P-256, 10 years
#   DIR/server.pem, DIR/server.key  leaf signed by that CA, EC P-256, 1 year,
#                                   SAN DNS:localhost, DNS:gateway.test, IP:127.0.0.1
# Existing files are kept, so it is safe to run before every test session. Prints nothing
# unless something fails. Set OPENSSL=/path/to/openssl to choose the binary.
set -euo pipefail

usage() {
  echo "usage: $0 DIR" >&2
  exit 2
}

# macOS ships LibreSSL as /usr/bin/openssl; prefer Homebrew's OpenSSL 3 where it exists.
find_openssl() {
  if [ -n "${OPENSSL:-}" ]; then
    echo "$OPENSSL"
    return
  fi
  local candidate
  for candidate in /opt/homebrew/opt/openssl@3/bin/openssl /usr/local/opt/openssl@3/bin/openssl; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return
    fi
  done
  echo openssl
}

# Runs a command and shows its output only if it fails.
quietly() {
  local output
  if ! output=$("$@" 2>&1); then
    printf '%s\n' "$output" >&2
    echo "gen-certs.sh: failed: $*" >&2
    return 1
  fi
}

new_p256_key() {
  quietly "$openssl" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}

random_serial() {
  echo "0x$("$openssl" rand -hex 16)"
}

make_ca() {
  cat >"$work/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca_ext
[dn]
CN = loopgate test CA
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  new_p256_key "$work/ca.key"
  quietly "$openssl" req -new -x509 -config "$work/ca.cnf" -key "$work/ca.key" -sha256 -days 3650 \
    -set_serial "$(random_serial)" -out "$work/ca.pem"
}

make_server_certificate() {
  local ca_pem=$1 ca_key=$2
  cat >"$work/server.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:gateway.test, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  new_p256_key "$work/server.key"
  quietly "$openssl" req -new -config "$work/server.cnf" -key "$work/server.key" -out "$work/server.csr"
  quietly "$openssl" x509 -req -in "$work/server.csr" -CA "$ca_pem" -CAkey "$ca_key" \
    -set_serial "$(random_serial)" -sha256 -days 365 \
    -extfile "$work/server.cnf" -extensions server_ext -out "$work/server.pem"
}

# Moves finished files into place; keys readable by their owner only.
install_files() {
  local name
  for name in "$@"; do
    case "$name" in *.key) chmod 600 "$work/$name" ;; *) chmod 644 "$work/$name" ;; esac
    mv -f "$work/$name" "$dir/$name"
  done
}

[ $# -eq 1 ] || usage
dir=$1
if [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ] && [ -f "$dir/server.pem" ] && [ -f "$dir/server.key" ]; then
  exit 0
fi

openssl=$(find_openssl)
mkdir -p "$dir"
work=$(mktemp -d "$dir/.gen-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 077

# A CA that is already there may be trusted somewhere; only the missing leaf is made again.
if [ -f "$dir/ca.pem" ] && [ -f "$dir/ca.key" ]; then
  make_server_certificate "$dir/ca.pem" "$dir/ca.key"
  install_files server.key server.pem
else
  make_ca
  make_server_certificate "$work/ca.pem" "$work/ca.key"
  install_files ca.key ca.pem server.key server.pem
fi
