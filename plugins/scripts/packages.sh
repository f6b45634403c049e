# shellcheck shell=bash
# PackageInstaller: install what is missing of `packages` (a re-run costs one query), with
# apt, dnf or yum; prints `installed: …`.
packages=()
input_lines packages packages
log=/tmp/sclust-pkginstaller.log
missing=()
if command -v apt-get >/dev/null; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then echo "installed: nothing missing"; exit 0; fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends -- "${missing[@]}" >"$log" 2>&1; then
    apt-get update -q >>"$log" 2>&1
    apt-get install -y -q --no-install-recommends -- "${missing[@]}" >>"$log" 2>&1 \
      || { tail -20 "$log" >&2; exit 1; }
  fi
elif command -v dnf >/dev/null || command -v yum >/dev/null; then
  tool=$(command -v dnf || command -v yum)
  for p in "${packages[@]}"; do rpm -q "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ "${#missing[@]}" -eq 0 ]; then echo "installed: nothing missing"; exit 0; fi
  "$tool" install -y -q -- "${missing[@]}" >&2
else
  echo "no apt-get, dnf or yum on this node" >&2
  exit 1
fi
echo "installed: ${missing[*]}"
