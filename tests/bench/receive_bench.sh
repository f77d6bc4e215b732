#!/usr/bin/env bash
# receive_bench.sh -- the receive-side benchmark: one load client (receive_bench), three servers,
# the same run, the same loopback, the same 4 KiB message:
#   edge     edge-transport on a Receive connector without limits (every 250 after the durable commit)
#   postfix  a private Postfix instance (Debian's package, default settings: it fsyncs every queue file
#            before its 250) relaying to an smtp-sink
#   sink     Postfix's smtp-sink: stores nothing, the ceiling of what SMTP alone costs here
# Cells: 1 and 50 sessions per target, then 5,000 idle connections to edge-transport (its RSS before
# and after). One line per cell, the ratios, and as the last line:
#   RESULT edge_msgs_per_s=… postfix_msgs_per_s=… sink_msgs_per_s=… ratio_vs_postfix=… ratio_vs_sink=… p99_ms=…
# (50 sessions; p99 is edge's). Exit status 1 when a cell lost or refused messages or a server failed.
#
# Everything runs on 127.0.0.1 on ports picked here after checking nothing uses them (smtp-sink and
# Postfix's smtpd listen with SO_REUSEPORT: a leftover listener on the same port would silently take
# half of the connections, so each listener is also checked to belong to the process we started).
# The Postfix instance has its own configuration, queue and data directories under $WORK and leaves
# /etc/postfix and any system Postfix alone. Everything started is stopped at the end by PID.
#
# Environment: BUILD (build/release)  WORK (build/bench-data/receive)  TARGETS ("sink postfix edge")
#   MSGS (20000, at 50 sessions)  MSGS_1 (2000, at 1 session)  WARMUP (1000)  SIZE (4096)
#   SESSIONS ("1 50")  MODE (reuse | new-connection)  IDLE (5000; 0 skips the idle cell)
#   POSTFIX_LOG (0; 1 = Postfix logs to $WORK/postfix.log, slower)  KEEP_WORK (0; 1 = keep $WORK)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
CLIENT=${CLIENT:-$BUILD/tests/bench/receive_bench}
EDGE=${EDGE:-$BUILD/transport/edge-transport}
EDGECTL=${EDGECTL:-$BUILD/cli/edgectl}
WORK=${WORK:-$ROOT/build/bench-data/receive}
TARGETS=${TARGETS:-sink postfix edge}
SESSIONS=${SESSIONS:-1 50}
MSGS=${MSGS:-20000}
MSGS_1=${MSGS_1:-2000}
WARMUP=${WARMUP:-1000}
SIZE=${SIZE:-4096}
MODE=${MODE:-reuse}
IDLE=${IDLE:-5000}
POSTFIX_LOG=${POSTFIX_LOG:-0}
HI=$(echo "$SESSIONS" | tr ' ' '\n' | sort -n | tail -1)   # the RESULT line's session count
RCPT=rcpt@bench.test

log() { echo "# $*" >&2; }
fail() { echo "receive_bench: $*" >&2; exit 1; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

[ "$(id -u)" = 0 ] || fail "must run as root (smtp-sink -u, Postfix)"
[ -x "$CLIENT" ] || fail "no $CLIENT (cmake --build build/release --target receive_bench)"
case "$MODE" in reuse) MODE_FLAG="" ;; new-connection) MODE_FLAG="--new-connection" ;; *) fail "MODE is reuse or new-connection" ;; esac
if has_target edge; then
  [ -x "$EDGE" ] && [ -x "$EDGECTL" ] || fail "no $EDGE or $EDGECTL (make build-release), or leave edge out of TARGETS"
fi
if has_target postfix || has_target sink; then
  command -v smtp-sink >/dev/null && command -v postconf >/dev/null || fail "postfix is not installed (make bench-deps)"
fi

# ---------------------------------------------------------------- processes we own
SINK_PID=""; RELAY_SINK_PID=""; EDGE_PID=""; POSTFIX_STARTED=0
PF_ETC=$WORK/postfix/etc; PF_SPOOL=$WORK/postfix/spool; PF_LIB=$WORK/postfix/lib

postfix_master_pid() {
  local p=""
  [ -r "$PF_SPOOL/pid/master.pid" ] && p=$(awk 'NR==1{print $1}' "$PF_SPOOL/pid/master.pid")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
  return 0
}

stop_pid() {  # stop_pid PID NAME -- TERM, wait up to 15 s, then KILL
  local pid=$1 name=$2
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || { log "stopped $name (pid $pid)"; return 0; }; sleep 0.1; done
  log "$name (pid $pid) did not stop, sending KILL"; kill -KILL "$pid" 2>/dev/null || true
}

stop_all() {
  if [ -n "$EDGE_PID" ]; then
    stop_pid "$EDGE_PID" edge-transport
    wait "$EDGE_PID" 2>/dev/null && log "edge-transport exited 0" || log "edge-transport exited $?"
    EDGE_PID=""
  fi
  if [ "$POSTFIX_STARTED" = 1 ]; then stop_pid "$(postfix_master_pid)" "postfix master"; POSTFIX_STARTED=0; fi
  [ -n "$SINK_PID" ] && stop_pid "$SINK_PID" smtp-sink; SINK_PID=""
  [ -n "$RELAY_SINK_PID" ] && stop_pid "$RELAY_SINK_PID" "smtp-sink (relay)"; RELAY_SINK_PID=""
}
trap 'rc=$?; stop_all; exit $rc' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- ports
USED_PORTS=" "
port_busy() { [ -n "$(ss -Htan "( sport = :$1 or dport = :$1 )" 2>/dev/null)" ]; }
pick_port() {  # a port below the ephemeral range that no socket uses, in any state
  local p
  for _ in $(seq 1 500); do
    p=$((20000 + RANDOM % 12000))
    [[ "$USED_PORTS" == *" $p "* ]] && continue
    port_busy "$p" && continue
    USED_PORTS="$USED_PORTS$p "; echo "$p"; return 0
  done
  fail "no free port found"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {  # wait_port PORT PID NAME SECONDS -- until PORT accepts; fails if PID dies first
  local deadline=$(( $(date +%s) + $4 ))
  until port_open "$1"; do
    kill -0 "$2" 2>/dev/null || fail "$3 (pid $2) exited before listening on 127.0.0.1:$1"
    [ "$(date +%s)" -lt "$deadline" ] || fail "$3 did not listen on 127.0.0.1:$1 within $4 s"
    sleep 0.05
  done
}
check_sole_listener() {  # check_sole_listener PORT PID NAME -- one listener on PORT, and it is PID's
  local lines; lines=$(ss -Hltnp "( sport = :$1 )")
  [ "$(grep -c . <<<"$lines")" = 1 ] && grep -q "pid=$2," <<<"$lines" \
    || fail "127.0.0.1:$1 should be $3's (pid $2) alone, but: $lines"
}

rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"

# ---------------------------------------------------------------- smtp-sink (target and Postfix's relay host)
start_sink() {  # start_sink PORT VAR
  smtp-sink -u nobody "127.0.0.1:$1" 1024 >>"$WORK/smtp-sink.log" 2>&1 &
  printf -v "$2" '%s' "$!"
  wait_port "$1" "${!2}" smtp-sink 10
  check_sole_listener "$1" "${!2}" smtp-sink
}
if has_target sink; then SINK_PORT=$(pick_port); start_sink "$SINK_PORT" SINK_PID; log "smtp-sink on 127.0.0.1:$SINK_PORT (pid $SINK_PID)"; fi

# ---------------------------------------------------------------- Postfix (private instance)
PF_QUEUE_FILES() { find "$PF_SPOOL"/incoming "$PF_SPOOL"/active "$PF_SPOOL"/deferred "$PF_SPOOL"/hold "$PF_SPOOL"/maildrop -type f 2>/dev/null | wc -l; }
postfix_drain() {  # Postfix relays while it accepts; let it finish before the next cell runs
  local n
  for _ in $(seq 1 6000); do n=$(PF_QUEUE_FILES); [ "$n" = 0 ] && return 0; sleep 0.1; done
  fail "the Postfix queue still holds $n files after 600 s"
}
if has_target postfix; then
  RELAY_PORT=$(pick_port); PF_PORT=$(pick_port)
  start_sink "$RELAY_PORT" RELAY_SINK_PID
  mkdir -p "$PF_ETC" "$PF_SPOOL" "$PF_LIB"
  chown postfix:postfix "$PF_LIB"
  if [ "$POSTFIX_LOG" = 1 ]; then PF_MAILLOG=$WORK/postfix.log; else PF_MAILLOG=""; fi
  # Only what the instance needs to be a loopback relay; every other setting is Postfix's default.
  cat >"$PF_ETC/main.cf" <<EOF
# receive_bench: a private Postfix instance (postfix -c $PF_ETC)
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $PF_LIB
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
syslog_name = postfix-receive-bench
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains = bench.test
relayhost = [127.0.0.1]:$RELAY_PORT
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = $PF_MAILLOG
maillog_file_prefixes = $WORK
biff = no
EOF
  cp /usr/share/postfix/master.cf.dist "$PF_ETC/master.cf"
  postconf -c "$PF_ETC" -F '*/*/chroot = n'          # the chroot of a private instance is not populated
  postconf -c "$PF_ETC" -M# smtp/inet
  postconf -c "$PF_ETC" -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
  postfix -c "$PF_ETC" check
  postfix -c "$PF_ETC" start >/dev/null 2>&1 || fail "postfix -c $PF_ETC start failed (rerun with POSTFIX_LOG=1 and read $WORK/postfix.log)"
  POSTFIX_STARTED=1
  for _ in $(seq 1 100); do [ -n "$(postfix_master_pid)" ] && break; sleep 0.1; done
  PF_PID=$(postfix_master_pid); [ -n "$PF_PID" ] || fail "postfix did not start (rerun with POSTFIX_LOG=1)"
  wait_port "$PF_PORT" "$PF_PID" "postfix master" 20
  check_sole_listener "$PF_PORT" "$PF_PID" "postfix master"
  log "postfix $(postconf -h mail_version) on 127.0.0.1:$PF_PORT (master pid $PF_PID), relaying to smtp-sink on $RELAY_PORT (pid $RELAY_SINK_PID)"
fi

# ---------------------------------------------------------------- edge-transport
if has_target edge; then
  EDGE_PORT=$(pick_port); EDGE_DEFAULT_PORT=$(pick_port)
  EDGE_DATA=$WORK/edge/data; EDGE_CONF=$WORK/edge/edge-transport.conf
  mkdir -p "$EDGE_DATA"
  cat >"$EDGE_CONF" <<EOF
# receive_bench: edge-transport under test (protocol logs off: their default)
ServerFqdn = edge.bench.test
DataDirectory = $EDGE_DATA
DefaultReceiveConnectorBindings = 127.0.0.1:$EDGE_DEFAULT_PORT
EOF
  edgectl() { "$EDGECTL" --data "$EDGE_DATA" "$@" >>"$WORK/edgectl.log" 2>&1 || fail "edgectl $* failed: $(tail -3 "$WORK/edgectl.log")"; }
  edgectl New-AcceptedDomain -Name bench -DomainName bench.test -DomainType Authoritative
  # The default connector's limits (100 connections per source, 2 % per source, 1 min of inactivity)
  # would break the 50-session and idle cells: the client uses a connector without limits.
  edgectl New-ReceiveConnector -Name Bench -Bindings "127.0.0.1:$EDGE_PORT" -RemoteIPRanges 127.0.0.0/8 \
    -PermissionGroups AnonymousUsers -MaxInboundConnection unlimited -MaxInboundConnectionPerSource unlimited \
    -MaxInboundConnectionPercentagePerSource 100 -TarpitInterval 00:00:00 -ConnectionInactivityTimeout 00:10:00 \
    -ConnectionTimeout 01:00:00
  "$EDGE" --config "$EDGE_CONF" --data "$EDGE_DATA" >"$WORK/edge-transport.log" 2>&1 &
  EDGE_PID=$!
  wait_port "$EDGE_PORT" "$EDGE_PID" edge-transport 20
  check_sole_listener "$EDGE_PORT" "$EDGE_PID" edge-transport
  log "edge-transport on 127.0.0.1:$EDGE_PORT (pid $EDGE_PID), data in $EDGE_DATA"
fi

echo "# receive_bench: $(. /etc/os-release; echo "$PRETTY_NAME"), $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# size=$SIZE mode=$MODE sessions=[$SESSIONS] msgs=$MSGS msgs_1=$MSGS_1 warmup=$WARMUP targets=[$TARGETS] postfix_log=$POSTFIX_LOG"

FAILED=0
LINES=()

# ---------------------------------------------------------------- idle cell (fresh server, before any load)
IDLE_LINE=""
if has_target edge && [ "$IDLE" -gt 0 ]; then
  out=$("$CLIENT" idle --port "$EDGE_PORT" --pid "$EDGE_PID" --connections "$IDLE" --timeout 30) || FAILED=1
  echo "$out"
  IDLE_LINE=$(grep '^idle_connections=' <<<"$out" || true)
  kill -0 "$EDGE_PID" 2>/dev/null || fail "edge-transport died during the idle cell"
fi

# ---------------------------------------------------------------- load cells
declare -A RATE P99
EDGE_ACCEPTED=0
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
for s in $SESSIONS; do
  m=$MSGS; [ "$s" = 1 ] && m=$MSGS_1
  for t in $TARGETS; do
    case $t in sink) port=$SINK_PORT ;; postfix) port=$PF_PORT ;; edge) port=$EDGE_PORT ;; *) fail "unknown target $t" ;; esac
    line=$("$CLIENT" load --label "$t" --port "$port" --sessions "$s" --messages "$m" --warmup "$WARMUP" \
             --size "$SIZE" --to "$RCPT" $MODE_FLAG) || FAILED=1
    [ -n "$line" ] || { FAILED=1; line="cell target=$t sessions=$s msgs_per_s=0 p99_ms=0 (client failed)"; }
    echo "$line"
    LINES+=("$line")
    RATE[$t,$s]=$(field msgs_per_s "$line"); P99[$t,$s]=$(field p99_ms "$line")
    if [ "$t" = postfix ]; then postfix_drain; fi
    if [ "$t" = edge ]; then EDGE_ACCEPTED=$((EDGE_ACCEPTED + $(field accepted "$line") + $(field warmup_accepted "$line"))); fi
  done
done

stop_all

# Every 250 from edge-transport must be a message in its queue: count them with the server down.
STORED_LINE=""
if has_target edge; then
  stored=$("$EDGECTL" --data "$EDGE_DATA" Get-Queue | awk 'NR > 2 && $(NF-1) ~ /^[0-9]+$/ { n += $(NF-1) } END { print n + 0 }')
  STORED_LINE="edge_stored messages_in_queue=$stored accepted_total=$EDGE_ACCEPTED"
  [ "$stored" = "$EDGE_ACCEPTED" ] || { FAILED=1; STORED_LINE="$STORED_LINE MISMATCH"; }
fi
[ "${KEEP_WORK:-0}" = 1 ] || [ "$FAILED" = 1 ] || rm -rf "$WORK"

# ---------------------------------------------------------------- summary
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
for s in $SESSIONS; do
  if has_target edge; then
    echo "ratio sessions=$s edge_vs_postfix=$(ratio "${RATE[edge,$s]:-}" "${RATE[postfix,$s]:-}") edge_vs_sink=$(ratio "${RATE[edge,$s]:-}" "${RATE[sink,$s]:-}")"
  fi
done
R_PF=$(ratio "${RATE[edge,$HI]:-}" "${RATE[postfix,$HI]:-}"); R_SINK=$(ratio "${RATE[edge,$HI]:-}" "${RATE[sink,$HI]:-}")
meets() { awk -v v="$1" -v op="$2" -v lim="$3" 'BEGIN{ if (v == "n/a" || v == "") print "n/a"; else if ((op == ">=" && v + 0 >= lim) || (op == "<" && v + 0 < lim)) print "yes"; else print "NO" }'; }
echo "targets sessions=$HI edge>=5xpostfix=$(meets "$R_PF" ">=" 5) edge>=0.5xsink=$(meets "$R_SINK" ">=" 0.5) idle_rss_delta<100mb=$(meets "$(field rss_delta_mb " $IDLE_LINE")" "<" 100)"
if [ -n "$STORED_LINE" ]; then echo "$STORED_LINE"; fi
if [ -n "$IDLE_LINE" ]; then echo "$IDLE_LINE"; fi
echo "RESULT edge_msgs_per_s=${RATE[edge,$HI]:-n/a} postfix_msgs_per_s=${RATE[postfix,$HI]:-n/a} sink_msgs_per_s=${RATE[sink,$HI]:-n/a} ratio_vs_postfix=$R_PF ratio_vs_sink=$R_SINK p99_ms=${P99[edge,$HI]:-n/a}"
exit "$FAILED"
