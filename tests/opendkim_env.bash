# Sets up an OpenDKIM filter that signs mail from 127.0.0.1 for example.com
# (selector "test", a fresh 1024-bit key) and verifies mail from anywhere
# else against that key, without DNS (TestPublicKeys). Sourced by tests and
# benchmarks.
#   opendkim_config DIR SOCKET_PATH   writes DIR/opendkim.conf and its key
#                                     files; returns non-zero on failure
# Then run: opendkim -f -x DIR/opendkim.conf
opendkim_config() {
  local dir="$1" sock="$2" record
  command -v opendkim >/dev/null && command -v opendkim-genkey >/dev/null || {
    echo "opendkim or opendkim-genkey missing (apt-get install opendkim opendkim-tools)" >&2
    return 1
  }
  opendkim-genkey -b 1024 -d example.com -s test -D "$dir" >"$dir/genkey.log" 2>&1 || {
    echo "opendkim-genkey failed: $(cat "$dir/genkey.log")" >&2
    return 1
  }
  # The DNS TXT record of test.txt, unquoted, on one line.
  record=$(tr -d '\n' <"$dir/test.txt" |
    sed -E 's/.*\( *(.*) *\).*/\1/; s/"[[:space:]]*"//g; s/"//g; s/[[:space:]]+/ /g')
  echo "test._domainkey.example.com $record" >"$dir/keys"
  echo "127.0.0.1" >"$dir/internal"
  cat >"$dir/opendkim.conf" <<CONF
Mode sv
Domain example.com
Selector test
KeyFile $dir/test.private
Socket local:$sock
Background no
Syslog no
RequireSafeKeys no
InternalHosts $dir/internal
TestPublicKeys $dir/keys
AuthservID mx.example.net
Canonicalization relaxed/simple
CONF
}
