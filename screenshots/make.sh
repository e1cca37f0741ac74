#!/usr/bin/env bash
# Makes the PNGs in screenshots/ from a real run of the dashboard:
#   tmux (capture-pane -e keeps the colours) -> aha (ANSI to HTML) -> a page in
#   Unifont (it has the Braille and block cells, so columns stay put) ->
#   headless Chromium screenshot.
#
#   bash screenshots/make.sh          # from anywhere; BIN=path/to/pooltop to skip the build
#
# Installs tmux, aha, chromium and fonts-unifont with apt when missing (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/screenshots
W=120
H=36

need=()
for c in tmux aha chromium; do command -v "$c" >/dev/null || need+=("$c"); done
fc-list 2>/dev/null | grep -i unifont >/dev/null || need+=(fonts-unifont)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/pooltop
fi

WORK=$(mktemp -d)
SOCK=pooltop-shots-$$
T() { tmux -L "$SOCK" "$@"; }
cleanup() { T kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/tasks" <<'TASKS'
spin 3e10
spin 4e10
sleep 3
hang
spin 2e10
fail disk on fire
shell echo hello from a shell task; ls assets | wc -l
square 12345
sha256 assets/mandelbrot.png
thumbnail assets/hills.png 200x100
spin 5e10
sleep 2
spin 3e10
spin 3e10
spin 4e10
spin 2e10
spin 5e10
spin 3e10
TASKS

# Waits until the screen shows $1 (a grep -E pattern), for at most $2 seconds.
wait_for() {
  local deadline=$((SECONDS + $2))
  until T capture-pane -p -t shots | grep -E "$1" >/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out waiting for: $1" >&2
      T capture-pane -p -t shots >&2
      exit 1
    fi
    sleep 0.2
  done
}

# Waits until the screen no longer shows $1.
wait_gone() {
  local deadline=$((SECONDS + $2))
  while T capture-pane -p -t shots | grep -E "$1" >/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out waiting for the end of: $1" >&2
      exit 1
    fi
    sleep 0.2
  done
}

# Captures the screen with its colours and turns it into $OUT/$1.png.
shot() {
  T capture-pane -p -e -t shots > "$WORK/$1.ans"
  {
    echo '<!doctype html><html><head><meta charset="utf-8"><style>'
    echo 'html,body{margin:0;background:#000;color:#ddd}'
    echo 'pre{margin:8px;font-family:Unifont,monospace;font-size:16px;line-height:1}'
    echo '</style></head><body><pre>'
    aha --black --no-header < "$WORK/$1.ans"
    echo '</pre></body></html>'
  } > "$WORK/$1.html"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$WORK/chrome" \
    --window-size=$((W * 8 + 16)),$((H * 16 + 16)) \
    --screenshot="$OUT/$1.png" "file://$WORK/$1.html" 2>/dev/null
  echo "wrote screenshots/$1.png"
}

T new-session -d -s shots -x $W -y $H \
  "cd '$ROOT' && '$BIN' run -j 4 --task-timeout 60 --join-timeout 8 --out '$WORK/thumbs' '$WORK/tasks'"

# The main screen, once the hang task has been flagged as possibly hung.
wait_for 'hung\? ' 40
shot main

# The help overlay.
T send-keys -t shots '?'
wait_for 'Help: pooltop keys' 10
shot help
T send-keys -t shots Escape
wait_gone 'Help: pooltop keys' 10

# Terminate the hung worker: select its row (rows are by id), press t.
row=$(T capture-pane -p -t shots | awk '$1 ~ /^w[0-9]+$/ && $2 ~ /^[0-9]+$/ {n++; if ($0 ~ / hang/) {print n; exit}}')
[ -n "$row" ] || { echo "no worker holds the hang task" >&2; exit 1; }
T send-keys -t shots Home
for ((i = 1; i < row; i++)); do T send-keys -t shots j; done
T send-keys -t shots t
wait_for 'stopping [0-9]+s' 10
sleep 2.2
shot terminate

# The timeline: a lane per worker slot, the bars of the tasks so far.
T send-keys -t shots v
wait_for 'Timeline · pool' 10
T send-keys -t shots z
sleep 2
shot timeline

# Quit: graceful, then kill at once.
T send-keys -t shots q
sleep 0.5
T send-keys -t shots q
sleep 1
