#!/usr/bin/env bash
# Optional: fetches METEOR 1.5's English paraphrase table (paraphrase-en.gz, 62 MB) from the
# pycocoevalcap 1.2 package on PyPI, checks its SHA-256 and puts it where sparsecap looks by
# default: ${XDG_CACHE_HOME:-~/.cache}/sparsecap/meteor/paraphrase-en.gz (or the folder given).
# With it, `sparsecap score` reports METEOR as the COCO toolkit does; without it,
# METEOR_no_paraphrase. The table is data of the METEOR project (LGPL); it is never committed.
#   scripts/install_meteor_paraphrase.sh [DESTINATION_FOLDER]
set -euo pipefail

destination="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/sparsecap/meteor}"
expected_sha256=c147ac7d2c91f2fbb3ad31e4b352235061eb83145e0434daf217ee9ca5975f48

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" pycocoevalcap==1.2
python3 - "$work" <<'PYTHON'
import glob, sys, zipfile
work = sys.argv[1]
with zipfile.ZipFile(glob.glob(work + "/pycocoevalcap-*.whl")[0]) as wheel:
    with open(work + "/paraphrase-en.gz", "wb") as out:
        out.write(wheel.read("pycocoevalcap/meteor/data/paraphrase-en.gz"))
PYTHON
echo "$expected_sha256  $work/paraphrase-en.gz" | sha256sum --check --quiet
mkdir -p "$destination"
mv "$work/paraphrase-en.gz" "$destination/paraphrase-en.gz"
echo "installed $destination/paraphrase-en.gz"
