#!/usr/bin/env bash
# Installs everything relance needs to build, run and test, from Debian 12
# (bookworm) packages only. Safe to run twice. Needs root (or sudo).
#
#   deploy/install-deps.sh          build + run dependencies
#   deploy/install-deps.sh --test   also what the test suite uses (tmux, Kannel,
#                                   an SMTP sink, Dovecot as the IMAP server,
#                                   the openssl command for test certificates,
#                                   faketime for the run a year ahead)
set -euo pipefail

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-url1.81-dev libssl-dev
  nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev libspdlog-dev libfmt-dev
  catch2 libtomlplusplus-dev libcli11-dev libhowardhinnant-date-dev tzdata
  libphonenumber-dev libxlsxwriter-dev libcurl4-openssl-dev libgmime-3.0-dev
)
if [ "$want_test" -eq 1 ]; then
  packages+=(tmux unzip curl python3-aiosmtpd kannel kannel-extras dovecot-imapd openssl faketime)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# libphonenumber-dev depends on the unversioned libboost-thread-dev, which
# means Boost 1.74 and conflicts with libboost1.81-dev. libphonenumber itself
# does not use Boost; a tiny local package that points the unversioned name at
# 1.81 lets apt resolve both (see shared recipes, CPP-DEPENDENCIES G1).
need_shim=0
dpkg-query -W -f='${Status}' libboost-thread-dev 2>/dev/null | grep -q 'install ok installed' || need_shim=1

if [ "${#missing[@]}" -eq 0 ] && [ "$need_shim" -eq 0 ]; then
  echo "install-deps: all packages already installed"
  exit 0
fi

extra=()
if [ "$need_shim" -eq 1 ]; then
  shim_dir=$(mktemp -d)
  mkdir -p "$shim_dir/pkg/DEBIAN"
  cat > "$shim_dir/pkg/DEBIAN/control" <<'CTRL'
Package: libboost-thread-dev
Version: 1.81.0.99~relance1
Architecture: all
Maintainer: relance <root@localhost>
Depends: libboost-thread1.81-dev
Description: lets libphonenumber-dev install next to Boost 1.81
CTRL
  dpkg-deb --root-owner-group --build "$shim_dir/pkg" "$shim_dir/libboost-thread-dev-shim.deb" >/dev/null
  extra+=("$shim_dir/libboost-thread-dev-shim.deb")
fi

echo "install-deps: installing ${missing[*]} ${extra[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${extra[@]}" "${missing[@]}"
echo "install-deps: done"
