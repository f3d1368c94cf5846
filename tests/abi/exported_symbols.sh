#!/usr/bin/env bash
# Lists the symbols libclipmatch.so exports (global or weak definitions in its dynamic symbol table; local ones
# are not visible to other objects) and fails on any that is not clipmatch's own API: clipmatch_* C functions,
# clipmatch:: C++ entities and their typeinfo / vtables.
set -euo pipefail
library=$1
symbols=$(nm -D --defined-only --demangle "$library" | awk '$2 ~ /^[A-Zu]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }')
foreign=$(printf '%s\n' "$symbols" | grep -v -E '^clipmatch_|^(typeinfo for |typeinfo name for |vtable for )?clipmatch::|const& clipmatch::enum_names<' || true)
count=$(printf '%s\n' "$symbols" | grep -c . || true)
if [ "$count" -lt 20 ]; then
  echo "only $count exported symbols: the listing failed"
  exit 1
fi
if [ -n "$foreign" ]; then
  echo "libclipmatch exports $(printf '%s\n' "$foreign" | wc -l) foreign symbols, e.g.:"
  printf '%s\n' "$foreign" | head -20
  exit 1
fi
echo "$count exported symbols, only clipmatch symbols"
