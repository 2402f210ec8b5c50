#!/usr/bin/env bash
# Differential test, real Postfix, OpenDKIM (Debian opendkim) signing last:
# after the libmilter test filter (changes Subject, adds a header and a
# recipient, replaces a body) and, in the second chain, after the python
# sample filter too (inserts a header at index 0, changes Subject). Chained
# by Postfix directly and through milter-manager, the deliveries must be the
# same (apart from the signature's t= and b=) and every signature must verify
# on the delivered message: OpenDKIM signed exactly the message that was
# delivered, so each child was shown the message as the earlier ones left
# it, and the MTA got every change. Verification: opendkim -t with a
# verify-only configuration and the test key (no DNS); a changed body byte
# must fail.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
source tests/opendkim_env.bash
md_setup 12800

echo "== building the manager and the filters; starting them and opendkim"
md_build
"$MD_PYTHON" -c "import Milter" || md_fail "python3-milter missing ($MD_PYTHON)"
C="$MD_WORK/c.sock"
P="$MD_WORK/python.sock"
mkdir -p "$MD_WORK/dkim" && chmod 755 "$MD_WORK/dkim"
D="$MD_WORK/dkim/opendkim.sock"
opendkim_config "$MD_WORK/dkim" "$D" || md_fail "cannot set up opendkim"
md_start cfilter "$C" "$MD_CFILTER" "unix:$C"
md_start python "$P" "$MD_PYTHON" testdata/python/sample_filter.py "unix:$P"
md_start opendkim "$D" opendkim -f -x "$MD_WORK/dkim/opendkim.conf"
cat >"$MD_WORK/dkim/verify.conf" <<CONF
Mode v
Syslog no
TestPublicKeys $MD_WORK/dkim/keys
AuthservID verifier.example
CONF
md_standard_messages

# verify FILE: opendkim's verdict on a delivered message (the sink's
# envelope lines removed).
verify() {
  grep -av '^X-\(Client-Addr\|Client-Proto\|Helo-Args\|Mail-Args\|Rcpt-Args\):' "$1" \
    >"$MD_WORK/verify.eml"
  opendkim -x "$MD_WORK/dkim/verify.conf" -t "$MD_WORK/verify.eml" 2>&1
}

declare -A sock=([cfilter]="unix:$C" [python]="unix:$P" [opendkim]="unix:$D")
for order in "cfilter opendkim" "python cfilter opendkim"; do
  set -- $order
  tag="${order// /-}"
  echo "== order: $order"
  config=""
  milters=""
  for f in "$@"; do
    config+="$(md_child "$f" "${sock[$f]}")"$'\n'
    milters+="${milters:+, }${sock[$f]}"
  done
  md_start_manager "manager-$tag" $((MD_PORT_BASE + 40)) "$config"
  md_run "direct-$tag" "$milters"
  md_run "manager-$tag" "$MD_MILTER"
  md_stop "manager-$tag"
  md_compare "direct-$tag" "manager-$tag"
  for label in "direct-$tag" "manager-$tag"; do
    signed=0
    for f in "$MD_WORK/$label"/*.eml; do
      grep -qa '^DKIM-Signature: ' "$f" || md_fail "$label/$(basename "$f"): not signed"
      out="$(verify "$f")"
      grep -q 'verification .* successful\|verification .* succeeded' <<<"$out" ||
        md_fail "$label/$(basename "$f"): signature does not verify: $out"
      signed=$((signed + 1))
    done
    [ "$signed" -ge 5 ] || md_fail "$label: only $signed messages delivered"
    md_ok "$label: all $signed delivered messages signed, signatures verify"
  done
  md_expect "manager-$tag" replace '^replaced' "signed message has the replaced body"
  md_expect "manager-$tag" plain '^Subject: \[sample\] ' "signed message has the changed Subject"
done
# The verifier does fail a changed message.
sed 's/^Hello\.$/Hello!/' "$(md_eml manager-cfilter-opendkim plain)" >"$MD_WORK/tampered.eml"
out="$(verify "$MD_WORK/tampered.eml")"
grep -q 'verification .* failed' <<<"$out" || md_fail "tampered message not refused: $out"
md_ok "a changed body byte fails verification"
md_pass
