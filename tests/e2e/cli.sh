#!/usr/bin/env bash
# The command line as an administrator meets it: --help on every verb,
# documented exit codes, check-config, migrate, scan --dry-run JSON, export.
set -euo pipefail
bin=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/relance-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

expect_code() {  # expect_code CODE cmd...
  local want=$1; shift
  set +e; "$@" >"$work/out" 2>"$work/err"; local got=$?; set -e
  [ "$got" -eq "$want" ] || { cat "$work/out" "$work/err"; fail "'$*' exited $got, expected $want"; }
}

expect_code 0 "$bin" --version
grep -q "^relance [0-9]" "$work/out" || fail "--version prints the version"
LANG=C.UTF-8 expect_code 0 "$bin" --help
grep -q "Codes de sortie : 0 succès, 1 erreur d'exécution, 2 erreur d'usage" "$work/out" || fail "help is French by default"
RELANCE_LANG=en expect_code 0 "$bin" scan --help
grep -q "show what would happen, change nothing" "$work/out" || fail "help in English with RELANCE_LANG=en"
for verb in serve demo import scan export check-config migrate; do
  expect_code 0 "$bin" "$verb" --help
done
expect_code 0 "$bin" export register --help
expect_code 2 "$bin"                       # no verb
expect_code 2 "$bin" frobnicate            # unknown verb
expect_code 2 "$bin" scan --format yaml    # bad option value

# A bad configuration: exit 2, with file:line:column.
printf '[http]\nport = "x"\n' >"$work/bad.toml"
expect_code 2 "$bin" --config "$work/bad.toml" check-config
grep -q "bad.toml:2:8: 'port' must be an integer" "$work/err" || { cat "$work/err"; fail "config error position"; }

# The example configuration, pointed at a scratch database.
sed "s|/var/lib/relance/relance.db|$work/relance.db|" "$root/deploy/relance.example.toml" >"$work/relance.toml"
RELANCE_API_TOKEN=topsecret-api expect_code 0 "$bin" --config "$work/relance.toml" check-config
grep -q 'api_token = "\*\*\*\*pi"' "$work/out" || fail "check-config masks the token"
! grep -q topsecret "$work/out" "$work/err" || fail "a secret leaked"
# The example uses SMS and email steps with neither configured: said loudly.
grep -q "warning: plan 'plan-001' step 1 ('1re relance') sends sms to learners, but \[sms\] is not configured" "$work/err" \
  || { cat "$work/err"; fail "check-config warns about a plan step on a channel that is not configured"; }


# A new database gets its schema from the first verb that uses it (no
# `migrate` first); `migrate` then has nothing to do.
expect_code 0 "$bin" --config "$work/relance.toml" scan --dry-run
[ -s "$work/relance.db" ] || fail "scan created the database"
expect_code 0 "$bin" --config "$work/relance.toml" migrate
grep -q "schema \([0-9]*\) -> \1" "$work/out" || { cat "$work/out"; fail "migrate on a current database applies nothing"; }
# `migrate` on a new database reports the versions it applied.
sed "s|$work/relance.db|$work/other.db|" "$work/relance.toml" >"$work/other.toml"
expect_code 0 "$bin" --config "$work/other.toml" migrate
grep -q "schema 0 -> " "$work/out" || fail "migrate reports versions"
# A file that is not a relance database is refused, untouched.
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE notes (x)"); c.commit()' "$work/foreign.db"
sed "s|$work/relance.db|$work/foreign.db|" "$work/relance.toml" >"$work/foreign.toml"
expect_code 1 "$bin" --config "$work/foreign.toml" scan --dry-run
grep -q "not a relance database" "$work/err" || { cat "$work/err"; fail "a foreign database is named as such"; }

# What check-config refuses, the verbs that act refuse too (exit 2), before
# touching anything: a plan naming a template that does not exist.
sed 's|template = "ladder_1"|template = "no_such_template"|' "$work/relance.toml" >"$work/badtpl.toml"
for verb in check-config scan import serve; do
  args=(); [ "$verb" = import ] && args=("$work/none.csv")
  expect_code 2 "$bin" --config "$work/badtpl.toml" "$verb" "${args[@]}"
  grep -q "no message 'learner.no_such_template.sms'" "$work/err" || { cat "$work/err"; fail "$verb names the missing template"; }
done

expect_code 0 "$bin" --config "$work/relance.toml" scan --dry-run --now 2026-12-01T09:00 --format json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["dry_run"] is True and d["now"]=="2026-12-01T08:00:00Z", d' "$work/out" \
  || fail "scan --format json"
expect_code 2 "$bin" --config "$work/relance.toml" scan --now "tomorrow"

expect_code 0 "$bin" --config "$work/relance.toml" export register --format csv --month 2026-11 -o "$work/reg.csv"
[ -s "$work/reg.csv" ] || fail "export wrote nothing"
expect_code 0 "$bin" --config "$work/relance.toml" --log-format json scan
echo "PASS: cli"
