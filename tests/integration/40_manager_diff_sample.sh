#!/usr/bin/env bash
# Differential test, real Postfix: the libmilter test filter
# (testdata/libmilter/sample_filter.c) and our example filter
# (//examples/sample:sample_filter), in both orders, chained by Postfix
# directly and through milter-manager. Same SMTP replies (the reject of
# reject@example.com included) and byte-identical deliveries: each filter's
# header change seen by the next ("[sample] [sample] ..."), both added
# headers and recipients, the replaced body, multi-occurrence and 8-bit
# headers, a 200 KiB body.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 12700

echo "== building the manager and the filters; starting the filters"
md_build
C="$MD_WORK/c.sock"
S="$MD_WORK/sample.sock"
md_start cfilter "$C" "$MD_CFILTER" "unix:$C"
md_start sample "$S" "$MD_SAMPLE" "unix:$S"
md_standard_messages

for order in "cfilter sample" "sample cfilter"; do
  set -- $order
  declare -A sock=([cfilter]="unix:$C" [sample]="unix:$S")
  tag="$1-$2"
  echo "== order: $1, $2"
  md_start_manager "manager-$tag" $((MD_PORT_BASE + 40)) \
    "$(md_child "$1" "${sock[$1]}"; md_child "$2" "${sock[$2]}")"
  md_run "direct-$tag" "${sock[$1]}, ${sock[$2]}"
  md_run "manager-$tag" "$MD_MILTER"
  md_stop "manager-$tag"
  md_compare "direct-$tag" "manager-$tag"
  # What the comparison covers, checked on the manager's side.
  md_expect_reply "manager-$tag" reject '^REFUSED 550 5\.7\.1 Sender rejected by sample filter' \
    "sender rejected with the first filter's reply"
  md_expect "manager-$tag" plain '^Subject: \[sample\] \[sample\] plain message' \
    "the second filter changed the Subject as the first left it"
  [ "$(grep -ac '^X-Sample: yes' "$(md_eml "manager-$tag" plain)")" = 2 ] ||
    md_fail "manager-$tag/plain: want two X-Sample headers"
  md_ok "manager-$tag/plain: both filters' X-Sample headers"
  md_expect "manager-$tag" two_rcpts '^X-Rcpt-Args: <added@dest\.example>' "added recipient delivered"
  md_expect "manager-$tag" replace '^replaced' "body replaced"
  md_expect "manager-$tag" sjis $'^Subject: \\[sample\\] \\[sample\\] \x93\xfa\x96\x7b' "8-bit Subject kept"
  md_expect "manager-$tag" nomod '^Subject: NOMOD please' "NOMOD message unchanged"
  if grep -q 'warning' "$MD_WORK/manager-$tag/maillog"; then
    grep 'warning' "$MD_WORK/manager-$tag/maillog"
    md_fail "Postfix warnings with the manager"
  fi
  md_ok "no Postfix warnings with the manager"
done
md_pass
