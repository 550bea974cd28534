#!/usr/bin/env bash
# Copies the C++ libraries zili builds against (sentencepiece, spdlog, fmt, CLI11, nlohmann_json,
# Catch2: headers, shared libraries with their SONAME links, pkg-config and CMake files) from
# this machine's Debian packages into one git-ignored folder, .deps/bundle (about 6 MB), for a
# machine that has CMake, a compiler and libtorch but none of these packages and no network
# (the GPU machine): the folder travels with the working tree, and CMake takes it on its own
# when it exists (ZILI_DEPS_DIR in CMakeLists.txt). The .pc and CMake files are rewritten to
# find everything relative to their own place, so the folder works wherever the tree lands.
# The libraries need a glibc and libstdc++ at least as new as Debian 12's; MANIFEST.txt in the
# folder says which package and version each file came from, and the exact symbol versions.
#   scripts/bundle-deps.sh [--out DIR]     (default: .deps/bundle at the repository root)
# Idempotent: each run builds the folder afresh beside the old one and swaps it in.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/.deps/bundle"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bundle-deps: unknown argument '$1'; usage: scripts/bundle-deps.sh [--out DIR]" >&2; exit 1 ;;
  esac
done
die() { echo "bundle-deps: $*" >&2; exit 1; }

# The -dev packages (headers, .so links, .pc, CMake configs); their shared libraries and those
# libraries' own non-system dependencies are added below.
dev_packages=(libsentencepiece-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev catch2
  libonig-dev libutf8proc-dev)
# What every Linux machine has: glibc, libstdc++, libgcc (never copied).
system_libs='^(linux-vdso|ld-linux[-a-z0-9_]*|libc|libm|libdl|libpthread|librt|libutil|libresolv|libstdc\+\+|libgcc_s)\.so'
# Catch2WithMain (a 1.7 MB static library and its import file): zili's tests have their own main.
skip='^/usr/lib/(libCatch2WithMain\.a|cmake/Catch2/Catch2Targets-none\.cmake)$'

command -v dpkg-query >/dev/null || die "dpkg-query not found: run this on the Debian 12 build machine, where scripts/setup.sh installed the packages"
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$multiarch" ] || die "gcc -print-multiarch gave nothing: run this on the Debian 12 build machine (scripts/setup.sh installs gcc)"
for p in "${dev_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    die "Debian package $p is not installed; run scripts/setup.sh (or apt-get install $p)"
done
owner() { dpkg -S "$1" 2>/dev/null | sed -n '1s/: .*//p'; }

# The packages of the shared libraries the -dev packages' .so links point to.
packages=("${dev_packages[@]}")
libs=()
for p in "${dev_packages[@]}"; do
  while read -r f; do
    case "$f" in /usr/lib/*.so) ;; *) continue ;; esac
    real=$(readlink -f "$f")
    [ -e "$real" ] || die "$f (package $p) points to the missing $real; reinstall $p"
    libs+=("$real")
    pkg=$(owner "$real")
    [ -n "$pkg" ] || die "no Debian package owns $real (the library behind $f)"
    packages+=("$pkg")
  done < <(dpkg -L "$p")
done
# Their dependencies beyond the system's (ldd lists the whole closure).
for lib in "${libs[@]}"; do
  while read -r name _ path _; do
    [[ "$name" =~ $system_libs ]] && continue
    if [ -z "$path" ] || [ "$path" = not ]; then
      die "ldd $lib: $name not found; reinstall the package of $lib"
    fi
    pkg=$(owner "$(readlink -f "$path")")
    [ -n "$pkg" ] || die "no Debian package owns $path (needed by $lib)"
    packages+=("$pkg")
  done < <(ldd "$lib" | grep '=>')
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
listing="$tmp/.listing"
# Every file (and symlink) of the packages under include/, lib/, share/cmake/ and
# share/pkgconfig/, at the same place relative to the bundle as to /usr: the CMake configs
# find their libraries relative to their own location.
for p in "${packages[@]}"; do
  version=$(dpkg-query -W -f='${Version}' "$p")
  echo "$p $version" >>"$listing"
  while read -r f; do
    [[ "$f" =~ ^/usr/(include|lib)/|^/usr/share/(cmake|pkgconfig)/ ]] || continue
    [[ "$f" =~ $skip ]] && continue
    [ -d "$f" ] && [ ! -L "$f" ] && continue
    rel=${f#/usr/}
    mkdir -p "$tmp/$(dirname "$rel")"
    cp -P --preserve=mode,timestamps "$f" "$tmp/$rel"
    echo "  $rel" >>"$listing"
  done < <(dpkg -L "$p")
done

# .pc files: /usr becomes the bundle, relative to the .pc file's folder (pkg-config's
# ${pcfiledir}). CMake files: the blocks that switch back to /usr when the file is reached
# through a /lib -> /usr/lib link go; the rest already works relative to the file.
while read -r pc; do
  up=$(dirname "${pc#"$tmp"/}" | sed 's#[^/]*#..#g')
  sed -i -E "s#/usr(/|\$|[[:space:]])#\${pcfiledir}/$up\1#g" "$pc"
done < <(find "$tmp" -name '*.pc')
find "$tmp" -name '*.cmake' -exec sed -i \
  '/^# Use original install prefix when loaded through a/,/^unset(_realCurr)$/d' {} +
stale=$(grep -rlE '/usr(/|"|$)' --include='*.pc' --include='*.cmake' "$tmp" || true)
[ -z "$stale" ] || die "absolute /usr paths left in ${stale//$tmp\//} (a new package layout?)"
[ -d "$tmp/lib/$multiarch" ] || die "no lib/$multiarch in the bundle: unexpected package layout"

# The newest symbol versions the libraries ask of the target machine's glibc and libstdc++.
newest() { find "$tmp/lib" -name '*.so.*' -type f -exec objdump -T {} + |
  grep -oE "\b$1_[0-9.]+" | sort -u -V | tail -1; }
{
  echo "zili's C++ dependencies, copied by scripts/bundle-deps.sh from the Debian packages of"
  # shellcheck disable=SC1091
  echo "$(. /etc/os-release && echo "$PRETTY_NAME") ($multiarch) on $(date -u +%Y-%m-%d)."
  echo "CMake uses this folder when it is ZILI_DEPS_DIR (default: .deps/bundle when it exists)."
  echo
  echo "Architecture: $multiarch. The shared libraries need glibc >= 2.36 (Debian 12's; the"
  echo "newest symbol they use is $(newest GLIBC)) and a libstdc++ with $(newest GLIBCXX) and"
  echo "$(newest CXXABI) (GCC 12 or newer): Ubuntu 22.04 and newer have them."
  echo "Not copied: glibc, libstdc++, libgcc (the machine's own), and Catch2::Catch2WithMain"
  echo "(libCatch2WithMain.a; zili's tests have their own main). .pc and .cmake files were"
  echo "rewritten to point into this folder instead of /usr."
  echo
  echo "Package version, then the files copied from it:"
  cat "$listing"
} >"$tmp/MANIFEST.txt"
rm "$listing"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "bundle-deps: $out ($(du -sh "$out" | cut -f1)): ${packages[*]}"
