#!/usr/bin/env bash
# Applicable conditions through a real Postfix with SMTP AUTH (Cyrus SASL,
# sasldb): a child under `authentication {}` (unauthenticated senders only)
# is skipped for a session that authenticated with swaks and applied to one
# that did not. The child is the example filter, which adds "X-Sample: yes"
# at end of message: the delivered messages show whether it ran, and the
# manager's log says why it did not.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 13100
for t in saslpasswd2 swaks; do
  command -v "$t" >/dev/null || md_fail "needs $t (bash scripts/install-deps.sh)"
done

echo "== building the manager and the example filter"
md_build
S="$MD_WORK/sample.sock"
md_start sample "$S" "$MD_SAMPLE" "unix:$S"
MANAGER_PORT=$((MD_PORT_BASE + 40))
md_start_manager manager "$MANAGER_PORT" "
applicable_condition { name: \"unauthenticated\" authentication {} }
$(md_child scan "unix:$S" 'applicable_conditions: "unauthenticated"')"

echo "== Postfix with SASL (sasldb: alice)"
md_port
pf_start "$MD_PORT" "$MD_MILTER" \
  "smtpd_sasl_auth_enable = yes" \
  "smtpd_sasl_type = cyrus" \
  "smtpd_sasl_path = smtpd" \
  "smtpd_sasl_local_domain = pf-test.example" \
  "smtpd_sasl_security_options = noanonymous" ||
  md_fail "postfix did not start"
# Debian's Postfix reads $config_directory/sasl/smtpd.conf (it ignores
# cyrus_sasl_config_path); each smtpd reads it when it starts.
SASL="$PF_CONF/sasl"
mkdir -p "$SASL"
cat >"$SASL/smtpd.conf" <<CONF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $SASL/sasldb2
CONF
echo "secret-pw" | saslpasswd2 -p -c -f "$SASL/sasldb2" -u pf-test.example alice ||
  md_fail "saslpasswd2"
chown -R postfix "$SASL"
chmod 755 "$SASL"

# send LABEL [swaks auth options...]: one message; its delivery in EML.
DELIVERED=0
send() {
  local label="$1"
  shift
  swaks --server 127.0.0.1 --port "$MD_PORT" --from sender@example.com \
    --to a@dest.example --header "Subject: $label" --body "hello $label" \
    "$@" >"$MD_WORK/$label.swaks" 2>&1 ||
    { cat "$MD_WORK/$label.swaks"; md_fail "$label: swaks failed"; }
  DELIVERED=$((DELIVERED + 1))
  pf_wait_delivered "$DELIVERED" 60 >/dev/null || md_fail "$label: not delivered"
  EML="$MD_WORK/$label.eml"
  cp "$(pf_sink_files | tail -1)" "$EML"
}

send authenticated --auth PLAIN --auth-user alice@pf-test.example \
  --auth-password secret-pw
grep -q "235 2.7.0 Authentication successful" "$MD_WORK/authenticated.swaks" ||
  { cat "$MD_WORK/authenticated.swaks"; md_fail "AUTH did not succeed"; }
grep -q "^X-Sample: yes" "$EML" && md_fail "authenticated: the child ran"
grep -q "^Subject: authenticated" "$EML" || md_fail "authenticated: subject changed"
md_ok "authenticated session: the child was skipped"
md_wait_log manager "child scan not applied to the message at envelope-from: condition unauthenticated: authenticated as \"alice@pf-test.example\"" ||
  md_fail "no log line for the skipped child"
md_ok "the manager logged why"

send unauthenticated
grep -q "^X-Sample: yes" "$EML" || md_fail "unauthenticated: the child did not run"
grep -q "^Subject: \[sample\] unauthenticated" "$EML" ||
  md_fail "unauthenticated: subject not changed"
md_ok "unauthenticated session: the child ran"
echo "PASS: $MD_CHECKS checks"
