#!/usr/bin/env bash
# End to end: `relance demo` in a real terminal (tmux). Alerts appear, a staff
# member claims, logs, resumes and exports from the console, then quits.
# Usage: console_demo.sh /path/to/relance
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d /tmp/relance-e2e-XXXXXX)
sock="relance-e2e-$$"
export LANG=C.UTF-8 LC_ALL=C.UTF-8

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

screen() { tmux -L "$sock" capture-pane -p -J -S -2000 -t demo 2>/dev/null || true; }

# Waits (up to 20 s) for a pattern on screen; no blind sleeps.
wait_for() {
  local pattern=$1 deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    if screen | grep -qF -- "$pattern"; then return 0; fi
    sleep 0.1
  done
  echo "FAIL: '$pattern' did not appear. Screen:"
  screen
  echo "--- stderr:"
  cat "$work/stderr.log" 2>/dev/null || true
  exit 1
}

send() { tmux -L "$sock" send-keys -t demo -l -- "$1"; tmux -L "$sock" send-keys -t demo Enter; }

tmux -L "$sock" -u new-session -d -s demo -x 220 -y 60 \
  "'$bin' demo --data-dir '$work/data' 2>'$work/stderr.log'; echo \"EXITED \$?\"; read -r _"

wait_for "apprenants fictifs importés"
wait_for "Dossier #1 — Camille Martin"
# The demo configures no SMS gateway: the step is a task, nothing claims it was sent.
wait_for "l'envoi de SMS n'est pas configuré, rien n'est parti"
wait_for "Procédure 003"

send "prendre 1"
wait_for "Dossier #1 : il est à vous."
wait_for "pris en charge par Marie"

send 'relance 1 tel joint "reprend lundi"'
wait_for "Relance notée sur le dossier #1 (téléphone, joint(e))."

send "relance 1 tel"
wait_for "il manque le résultat"

send "liste mes"
wait_for "#1 Camille Martin — en cours, pris par marie"

send "repris 1"
wait_for "Dossier #1 clos : reprise."

send "abandon 2 « déménagement »"
wait_for "Dossier #2 clos : abandon."

send "n'importe quoi"
wait_for "Commande inconnue"

send "export xlsx"
wait_for "Tableau de suivi exporté"
test -s "$work/data/exports/tableau-de-suivi.xlsx" || { echo "FAIL: no xlsx file"; exit 1; }

send "quitter"
wait_for "EXITED 0"
echo "PASS: console demo under tmux"
