#!/bin/bash
# A restraint-style task: results reported in capitals, by name.
# pexen: requires=http.sh uses=port8080 timeout=60
report() { echo "$2 $1 ${3:-}" >> "$PEXEN_RESULTS"; }   # report NAME RESULT [MESSAGE]
report connect PASS
report login PASS "as admin"
report certificate WARN "expires in 20 days"
exit 0
