#!/usr/bin/env bash
# backlog_bench.sh -- a large queue (issue 21, "a million queued messages"): what an administrator
# and the server pay when a next hop has been away and MSGS messages wait for it.
#
# Cells, on one edge-transport data directory filled by backlog_fill (QueueDb's own group commit,
# SIZE-byte messages for bench.test, routed to the Send connector ToSink = an smtp-sink):
#   fill        backlog_fill's rate (msgs/s) and the data directory's size
#   edgectl     wall time of Get-Queue, the first page of Get-Message (-ResultSize 100), a page from a
#               bookmark in the middle (-BookmarkObject), one message by identity, a deep
#               -BookmarkIndex (MSGS/2) page, best of 3 each
#   start       time from exec to the SMTP port accepting, with the backlog queued (the queue
#               suspended, so nothing is delivered yet): after a clean stop (twice) and after kill -9
#               (the full recovery scan)
#   drain       the queue resumed: time until the sink has counted all MSGS, msgs/s, and the server's
#               largest anonymous RSS (RssAnon: its heap; the mapped LMDB file is not counted)
# Then the same drain for Postfix (Debian's package, private instance, default settings) with a
# backlog of PF_MSGS messages: injected with smtp-source while its relay host is a closed port (every
# message deferred), then the sink started on that port and `postqueue -f`; and an edge cell with
# the same PF_MSGS backlog, so the drain ratio compares equal backlogs.
#
# Last line:
#   RESULT msgs=… fill_msgs_per_s=… get_queue_ms=… get_message_page_ms=… bookmark_page_ms=…
#          identity_ms=… deep_index_page_ms=… start_clean_ms=… start_crash_ms=… drain_msgs_per_s=…
#          drain_peak_anon_rss_mb=… pf_msgs=… edge_small_drain_msgs_per_s=… postfix_drain_msgs_per_s=… ratio=…
# Exit status 1 when a message was lost or duplicated (the sink's count is not the backlog).
#
# Environment: BUILD (build/release)  WORK (build/bench-data/backlog)  MSGS (1000000)  SIZE (2048)
#   PF_MSGS (20000; 0 = no Postfix cell)  DRAIN_TIMEOUT (1800 s)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
EDGE=${EDGE:-$BUILD/transport/edge-transport}
EDGECTL=${EDGECTL:-$BUILD/cli/edgectl}
FILL=${FILL:-$BUILD/tests/bench/backlog_fill}
WORK=${WORK:-$ROOT/build/bench-data/backlog}
MSGS=${MSGS:-1000000}
SIZE=${SIZE:-2048}
PF_MSGS=${PF_MSGS:-20000}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-1800}
TARGETS="postfix edge"

BENCH_NAME=backlog_bench
# shellcheck source=bench_lib.sh
. "$HERE/bench_lib.sh"

[ "$(id -u)" = 0 ] || fail "must run as root (smtp-sink -u, Postfix)"
[ -x "$EDGE" ] && [ -x "$EDGECTL" ] && [ -x "$FILL" ] || fail "build first: cmake --build $BUILD (edge-transport, edgectl, backlog_fill)"
command -v smtp-sink >/dev/null && command -v smtp-source >/dev/null || fail "postfix is not installed (make bench-deps)"

bench_prepare_work
FAILED=0
ms_now() { date +%s%3N; }
# best_ms CMD... -- the best wall time of three runs, in ms
best_ms() {
  local best="" t0 t
  for _ in 1 2 3; do
    t0=$(ms_now); "$@" >/dev/null 2>>"$WORK/edgectl.log" || fail "$* failed: $(tail -3 "$WORK/edgectl.log")"; t=$(( $(ms_now) - t0 ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  echo "$best"
}
ectl() { "$EDGECTL" --data "$EDGE_DATA" "$@"; }
# The backlog's queue: a Send connector to smart hosts names its queue after itself (tosink). Once
# empty for QueueMaxIdleTime it is removed: then it holds 0.
QUEUE=tosink
queued() { ectl Get-Queue -Filter "NextHopDomain -eq '$QUEUE'" -Format List 2>/dev/null | awk '$1 == "MessageCount" { n = $3 } END { print n + 0 }'; }
rss_anon_mb() { awk '/RssAnon/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# start_timed -- starts edge-transport (EDGE_PID); START_MS = the ms until its port accepts
start_timed() {
  local t0; t0=$(ms_now)
  "$EDGE" --config "$EDGE_CONF" --data "$EDGE_DATA" >>"$WORK/edge-transport.log" 2>&1 &
  EDGE_PID=$!
  wait_port "$EDGE_PORT" "$EDGE_PID" edge-transport 600
  START_MS=$(( $(ms_now) - t0 ))
}
# drain_edge N SINK_OUT -- resumes the backlog's queue and waits until the sink has counted N; sets
# DRAIN_MS and DRAIN_PEAK (the server's largest anonymous RSS seen, MB: its heap, not the pages of the
# mapped LMDB file, which VmHWM also counts and which the kernel may drop at will)
drain_edge() {
  local n=$1 out=$2 t0 c=0 peak=0 r
  t0=$(ms_now)
  ectl Resume-Queue "$QUEUE" >>"$WORK/edgectl.log" 2>&1 || fail "Resume-Queue failed"
  while :; do
    c=$(sink_count "$out")
    r=$(rss_anon_mb "$EDGE_PID"); [ "$r" -gt "$peak" ] && peak=$r
    [ "$c" -ge "$n" ] && break
    [ $(( $(ms_now) - t0 )) -lt $(( DRAIN_TIMEOUT * 1000 )) ] || fail "the edge drained $c of $n in $DRAIN_TIMEOUT s"
    kill -0 "$EDGE_PID" 2>/dev/null || fail "edge-transport exited during the drain: $(tail -5 "$WORK/edge-transport.log")"
    sleep 0.2
  done
  DRAIN_MS=$(( $(ms_now) - t0 )); DRAIN_PEAK=$peak
}
# edge_backlog N -- a fresh edge data directory with N messages for bench.test, the Send connector
# ToSink to a new smtp-sink; sets SINK_OUT
edge_backlog() {
  rm -rf "$WORK/edge"
  pick_port SINK_PORT
  SINK_OUT=$WORK/sink-$SINK_PORT.out
  start_sink "$SINK_PORT" SINK_PID "smtp-sink (edge's)" "$SINK_OUT" -c
  edge_configure ExternalRelay
  edgectl New-SendConnector -Name ToSink -AddressSpaces "SMTP:bench.test;1" -DNSRoutingEnabled '$false' \
    -SmartHosts 127.0.0.1 -Port "$SINK_PORT"
  FILL_LINE=$("$FILL" --dir "$EDGE_DATA" --messages "$1" --size "$SIZE" --domain bench.test --queue "$QUEUE")
  log "$FILL_LINE"
  # Held until the drain cell: the start cells measure a start with the whole backlog waiting.
  edgectl Suspend-Queue "$QUEUE"
}

echo "# backlog_bench: $(. /etc/os-release; echo "$PRETTY_NAME"), $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# msgs=$MSGS size=$SIZE pf_msgs=$PF_MSGS"

# ---------------------------------------------------------------- equal backlogs: edge, then Postfix
EDGE_SMALL=n/a; PF_RATE=n/a; RATIO=n/a
if [ "$PF_MSGS" -gt 0 ]; then
  edge_backlog "$PF_MSGS"
  start_timed
  drain_edge "$PF_MSGS" "$SINK_OUT"; ms=$DRAIN_MS
  EDGE_SMALL=$(awk -v n="$PF_MSGS" -v ms="$ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
  stop_edge
  echo "edge_small msgs=$PF_MSGS drain_s=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }') msgs_per_s=$EDGE_SMALL"

  pick_port PF_PORT; pick_port PF_SINK_PORT
  PF_SINK_OUT=$WORK/sink-postfix.out
  postfix_start "$PF_PORT" "$PF_SINK_PORT" postfix-backlog-bench   # its relay host does not listen yet
  log "postfix $(postconf -h mail_version): injecting $PF_MSGS messages with smtp-source (relay host closed)"
  smtp-source -c -s 20 -m "$PF_MSGS" -l "$SIZE" -f bench@client.bench.test -t rcpt@bench.test "127.0.0.1:$PF_PORT" >/dev/null 2>&1
  # Wait until every message has been tried once and deferred (none left in incoming/active).
  for _ in $(seq 1 6000); do
    d=$(find "$PF_SPOOL/deferred" -type f | wc -l)
    [ "$d" -ge "$PF_MSGS" ] && break
    sleep 0.1
  done
  [ "$d" -ge "$PF_MSGS" ] || fail "Postfix deferred $d of $PF_MSGS"
  start_sink "$PF_SINK_PORT" PF_SINK_PID "smtp-sink (postfix's)" "$PF_SINK_OUT" -c
  t0=$(ms_now)
  postqueue -c "$PF_ETC" -f
  while [ "$(sink_count "$PF_SINK_OUT")" -lt "$PF_MSGS" ]; do
    [ $(( $(ms_now) - t0 )) -lt $(( DRAIN_TIMEOUT * 1000 )) ] || fail "Postfix drained $(sink_count "$PF_SINK_OUT") of $PF_MSGS"
    sleep 0.2
  done
  ms=$(( $(ms_now) - t0 ))
  PF_RATE=$(awk -v n="$PF_MSGS" -v ms="$ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
  echo "postfix msgs=$PF_MSGS drain_s=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }') msgs_per_s=$PF_RATE"
  RATIO=$(awk -v a="$EDGE_SMALL" -v b="$PF_RATE" 'BEGIN { printf "%.2f", a / b }')
  stop_pid "$(postfix_master_pid)" "postfix master"; POSTFIX_STARTED=0
fi

# ---------------------------------------------------------------- the large backlog
edge_backlog "$MSGS"
FILL_RATE=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$FILL_LINE")
echo "fill msgs=$MSGS msgs_per_s=$FILL_RATE data=$(du -sh "$EDGE_DATA" | cut -f1)"

MIDDLE=$(( MSGS / 2 ))
GQ=$(best_ms ectl Get-Queue)
GM=$(best_ms ectl Get-Message -Queue "$QUEUE" -ResultSize 100)
BM=$(best_ms ectl Get-Message -BookmarkObject "$QUEUE\\$MIDDLE" -ResultSize 100)
ID=$(best_ms ectl Get-Message "$QUEUE\\$MIDDLE")
DI=$(best_ms ectl Get-Message -Queue "$QUEUE" -BookmarkIndex "$MIDDLE" -ResultSize 100)
echo "edgectl get_queue_ms=$GQ get_message_page_ms=$GM bookmark_page_ms=$BM identity_ms=$ID deep_index_page_ms=$DI"
[ "$(queued)" = "$MSGS" ] || { echo "Get-Queue says $(queued), not $MSGS" >&2; FAILED=1; }

start_timed; S1=$START_MS; stop_edge
start_timed; S2=$START_MS
kill -KILL "$EDGE_PID"; wait "$EDGE_PID" 2>/dev/null || true; EDGE_PID=""
start_timed; S3=$START_MS
grep -q "after an unclean stop" "$WORK/edge-transport.log" || { echo "the start after kill -9 did not run the full scan" >&2; FAILED=1; }
echo "start clean_ms=$S1 clean_again_ms=$S2 after_kill_ms=$S3"
START_CLEAN=$(( S1 < S2 ? S1 : S2 ))

drain_edge "$MSGS" "$SINK_OUT"; ms=$DRAIN_MS; PEAK=$DRAIN_PEAK
DRAIN=$(awk -v n="$MSGS" -v ms="$ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
echo "drain msgs=$MSGS drain_s=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }') msgs_per_s=$DRAIN peak_anon_rss_mb=$PEAK"
for _ in $(seq 1 300); do [ "$(queued)" = 0 ] && break; sleep 0.2; done
left=$(queued)
got=$(sink_count "$SINK_OUT")
if [ "$left" != 0 ] || [ "$got" != "$MSGS" ]; then
  echo "after the drain: $left left in the queue, the sink counted $got of $MSGS" >&2
  FAILED=1
fi
stop_edge

echo "RESULT msgs=$MSGS fill_msgs_per_s=$FILL_RATE get_queue_ms=$GQ get_message_page_ms=$GM bookmark_page_ms=$BM identity_ms=$ID deep_index_page_ms=$DI start_clean_ms=$START_CLEAN start_crash_ms=$S3 drain_msgs_per_s=$DRAIN drain_peak_anon_rss_mb=$PEAK pf_msgs=$PF_MSGS edge_small_drain_msgs_per_s=$EDGE_SMALL postfix_drain_msgs_per_s=$PF_RATE ratio=$RATIO"
exit "$FAILED"
