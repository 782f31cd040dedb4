#!/bin/bash
# Every figure script, one after the other (run it with nothing else on the machine):
# benchmarks/quiet.sh [OUTPUT]; PYTHON picks the interpreter (default: python).
out=$(realpath "${1:-quiet_$(date +%Y%m%d-%H%M).txt}")
PY=${PYTHON:-python}
cd "$(dirname "$0")"
run() { echo "### $* ($(date +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))" >> $out; env -u PYTHONDONTWRITEBYTECODE timeout 1200 $PY "$@" >> $out 2>&1; }
run overhead.py --pairs 7
run journal.py --rounds 11
run startup.py --pairs 9
run collection.py --pairs 5
run xdist_overhead.py --pairs 5
run engine.py --tasks 50000 --repeat 3 --contenders ours floor
run makespan.py --random-seeds 5 --skip-peers
echo "### done $(date +%H:%M:%S)" >> $out
