#!/bin/sh
# Installs what the lab needs (here: pretends to).
# pexen: provides=packages priority=-1
echo "installing packages"
echo "pass packages installed" >> "$PEXEN_RESULTS"
