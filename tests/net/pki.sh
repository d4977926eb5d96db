# shellcheck shell=bash
# A small PKI for the TLS tests and the bench, made with the openssl command.
#
#   pki_make DIR   CAs ca1 and ca2, and host certificates hosta, hostb, hostz
#                  (CA 1) and evila (CA 2, naming hosta), each also as a
#                  --pki-dir DIR/NAME (ca-cert.pem, cert.pem, key.pem)

pki_make() { # DIR: CAs ca1, ca2 and host certificates, one --pki-dir each
	local d=$1
	mkdir -p "$d" && cd "$d" || return
	ca() {
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=keyCertSign -keyout "$1-key.pem" -out "$1-cert.pem" 2>/dev/null
	}
	host() { # CA NAME DNS
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
			-keyout "$2.key" -out "$2.csr" 2>/dev/null || return
		printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$2.ext"
		openssl x509 -req -in "$2.csr" -CA "$1-cert.pem" -CAkey "$1-key.pem" -CAcreateserial \
			-days 2 -extfile "$2.ext" -out "$2.crt" 2>/dev/null || return
		mkdir -p "$2" && cp "$1-cert.pem" "$2/ca-cert.pem" && cp "$2.crt" "$2/cert.pem" &&
			cp "$2.key" "$2/key.pem"
	}
	ca ca1 && ca ca2 && host ca1 hosta hosta && host ca1 hostb hostb &&
		host ca1 hostz hostz && host ca2 evila hosta
	local st=$?
	cd - >/dev/null
	return $st
}
