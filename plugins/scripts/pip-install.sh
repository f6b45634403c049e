# shellcheck shell=bash
# PyPkgInstaller: `command` (argv words, `%s` standing for the packages) with `packages`;
# pip comes from the distribution if missing. System-wide, as StarCluster installed them.
command_words=()
input_lines command command_words
packages=()
input_lines packages packages
argv=()
for word in "${command_words[@]}"; do
  if [ "$word" = "%s" ]; then argv+=("${packages[@]}"); else argv+=("$word"); fi
done
if ! command -v "${argv[0]}" >/dev/null && [[ "${argv[0]}" == pip* ]]; then
  export DEBIAN_FRONTEND=noninteractive
  if command -v apt-get >/dev/null; then
    apt-get install -y -q python3-pip >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q python3-pip >&2; }
  else
    "$(command -v dnf || command -v yum)" install -y -q python3-pip >&2
  fi
  command -v "${argv[0]}" >/dev/null || argv[0]=pip3
fi
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1
log=/tmp/sclust-pip.log
"${argv[@]}" >"$log" 2>&1 || { tail -20 "$log" >&2; exit 1; }
echo "pip: ${packages[*]}"
