#!/bin/sh
# Starts the service and tells the checks where it listens: what the test
# leaves in $PEXEN_SHARED (a JSON object) is handed to the tests that
# require what it provides.
# pexen: requires=packages provides=service
# pexen: claims=port8080
echo "starting the service"
python3 - "$PEXEN_SHARED" <<'END'
import json, sys
with open(sys.argv[1]) as f:
    shared = json.load(f)            # initial values: --pexen-shared
shared["url"] = "http://localhost:8080"
with open(sys.argv[1], "w") as f:
    json.dump(shared, f)
END
