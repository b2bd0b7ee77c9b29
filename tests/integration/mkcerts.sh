#!/usr/bin/env bash
# mkcerts.sh DIR -- a throw-away PKI for the remote tests and benchmarks:
#   ca.pem/ca.key                 the CA the worker trusts (--ca)
#   server.pem/server.key         the worker's certificate (localhost,
#                                 127.0.0.1, ::1), signed by ca
#   client.pem/client.key         a coordinator's client certificate, by ca
#   other-ca.pem/other-ca.key     a CA nobody trusts
#   other-client.pem/.key         a client certificate signed by other-ca
#   other-server.pem/.key         a worker certificate signed by other-ca
# EC P-256 keys (fast to make), valid two days, keys mode 600.
set -euo pipefail
dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
ossl() { openssl "$@" 2>/dev/null; }
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() {
  key "$1.key"
  ossl req -x509 -new -key "$1.key" -subj "/CN=repartir test $1" -days 2 -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # name ca usage
  key "$1.key"
  ossl req -new -key "$1.key" -subj "/CN=repartir test $1" -out "$1.csr"
  printf '%s\n' "basicConstraints=CA:FALSE" "extendedKeyUsage=$3" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" > "$1.ext"
  ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}
ca ca
ca other-ca
leaf server ca serverAuth
leaf client ca clientAuth
leaf other-client other-ca clientAuth
leaf other-server other-ca serverAuth
chmod 600 ./*.key
chmod 644 ./*.pem
