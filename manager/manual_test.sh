#!/usr/bin/env bash
# The manual page renders without a groff warning, and both it and
# docs/milter-manager.md name every field of the manager's and the
# children's configuration (config.proto), so that no setting goes
# undocumented.
set -u
proto="manager/config/config.proto"
page="docs/milter-manager.8"
manual="docs/milter-manager.md"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

warnings="$(groff -man -ww -z "$page" 2>&1)"
[ -z "$warnings" ] || fail "groff: $warnings"

# fields MESSAGE: the field names of one message of the schema.
fields() {
  awk -v m="$1" '
    $1 == "message" && $2 == m { inside = 1; depth = 0 }
    inside {
      if ($1 ~ /^(optional|repeated)$/) { sub(/ *=.*/, "", $3); print $3 }
      depth += gsub(/{/, "{") - gsub(/}/, "}")
      if (depth == 0 && /}/) inside = 0
    }' "$proto"
}
for message in ManagerConfig ChildConfig; do
  names="$(fields "$message")"
  [ -n "$names" ] || fail "no fields found for $message in $proto"
  for name in $names; do
    grep -qF "$name" "$page" || fail "$page does not name $message.$name"
    grep -qF "\`$name\`" "$manual" || fail "$manual does not name $message.$name"
  done
done
[ "$failures" = 0 ] && echo "all passed"
[ "$failures" = 0 ]
