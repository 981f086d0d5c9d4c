#!/usr/bin/env bash
# Vendors swagger-ui-dist (pinned) into static/vendor/ for the offline
# /api/docs page, and writes VENDOR.md with the npm integrity of the
# tarball and the sha256 of every file copied. Run from the repo root;
# commit the result (build and CI need no npm).
set -euo pipefail
VERSION=5.35.0
DEST="static/vendor/swagger-ui-dist@$VERSION"
FILES=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "swagger-ui-dist@$VERSION" --json >pack.json 2>/dev/null)
integrity=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))[0]['integrity'])" "$tmp/pack.json")
tar xzf "$tmp/swagger-ui-dist-$VERSION.tgz" -C "$tmp"
rm -rf "$DEST" && mkdir -p "$DEST"
for f in "${FILES[@]}"; do cp "$tmp/package/$f" "$DEST/$f"; done
{
  echo "# swagger-ui-dist $VERSION"
  echo
  echo "Vendored by scripts/vendor-swagger-ui.sh for /api/docs (no CDN)."
  echo
  echo "- package: swagger-ui-dist@$VERSION (npm)"
  echo "- tarball integrity: $integrity"
  echo "- licence: Apache-2.0 (LICENSE, NOTICE)"
  echo
  echo "| file | sha256 |"
  echo "| --- | --- |"
  for f in "${FILES[@]}"; do echo "| $f | $(sha256sum "$DEST/$f" | cut -d' ' -f1) |"; done
} >"$DEST/VENDOR.md"
echo "vendored swagger-ui-dist $VERSION into $DEST"
