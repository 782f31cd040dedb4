#!/bin/sh
# Reads what the service left in the shared state; several named results.
# pexen: requires=service uses=port8080
url=$(sed 's/.*"url": "\([^"]*\)".*/\1/' "$PEXEN_SHARED")
echo "checking $url"
{
    echo "pass status 200 OK"
    echo "info latency 12 ms"
} >> "$PEXEN_RESULTS"
