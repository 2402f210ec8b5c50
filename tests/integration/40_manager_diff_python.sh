#!/usr/bin/env bash
# Differential test, real Postfix, python3-milter children: the python
# sample filter (testdata/python/sample_filter.py: add, insert at index 0,
# change Subject, add recipient, replace body) and two witness filters
# (testdata/python/witness_filter.py), chained by Postfix directly and
# through milter-manager. Each witness adds a header listing every header it
# was shown (name and a checksum of the value, in order) and the body's
# length and checksum, so that the deliveries are equal only if every child
# was shown, through the manager, exactly what Postfix shows it. The first
# witness also inserts headers at indices 1 and 3, changes and deletes
# occurrences of a repeated header, changes one that does not exist: the
# second witness must see those changes placed as Postfix places them.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/postfix/postfix_env.sh
source tests/integration/manager_diff.bash
md_setup 12750

echo "== building the manager; starting the python filters"
md_build
"$MD_PYTHON" -c "import Milter" || md_fail "python3-milter missing ($MD_PYTHON)"
P="$MD_WORK/python.sock"
W1="$MD_WORK/w1.sock"
W2="$MD_WORK/w2.sock"
md_start python "$P" "$MD_PYTHON" testdata/python/sample_filter.py "unix:$P"
md_start w1 "$W1" "$MD_PYTHON" testdata/python/witness_filter.py W1 "unix:$W1"
md_start w2 "$W2" "$MD_PYTHON" testdata/python/witness_filter.py W2 "unix:$W2"
md_standard_messages

declare -A sock=([python]="unix:$P" [w1]="unix:$W1" [w2]="unix:$W2")
for order in "w1 w2" "python w1 w2" "w1 python w2"; do
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
  md_expect "manager-$tag" multi '^X-Witness-W2: ' "the last witness reported"
  md_expect "manager-$tag" multi '^X-W1-At1: 1' "W1's inserted header delivered"
done
md_expect "manager-python-w1-w2" plain '^X-Python-First: 1' "python's header inserted at index 0"
md_expect "manager-python-w1-w2" replace '^replaced by python' "python replaced the body"
md_pass
