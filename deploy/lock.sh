#!/bin/sh
# Regenerate deploy/requirements.lock (the runtime dependencies of pyproject.toml, every
# one pinned with its hashes) and deploy/build-requirements.lock (the tools that build
# the wheel), for the container image (`pip install --require-hashes`).
# Run from the repository root with pip-tools in a throwaway virtualenv:
#   python3.11 -m venv /tmp/lockvenv && /tmp/lockvenv/bin/pip install pip-tools
#   sh deploy/lock.sh /tmp/lockvenv/bin/pip-compile
# Resolve with the Python of the image (3.11, deploy/Containerfile). The machine's pip
# configuration (local indexes, find-links) is left out, so the lock names only PyPI.
set -eu
PIP_COMPILE=${1:-pip-compile}
env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "$PIP_COMPILE" --quiet \
  --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
  --output-file deploy/requirements.lock pyproject.toml
env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null "$PIP_COMPILE" --quiet \
  --generate-hashes --allow-unsafe \
  --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
  --output-file deploy/build-requirements.lock deploy/build-requirements.in
