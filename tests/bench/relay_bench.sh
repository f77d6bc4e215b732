#!/usr/bin/env bash
# relay_bench.sh -- the relay benchmark: end-to-end throughput of a store-and-forward relay,
#   load client --SMTP--> server --its queue--> its SMTP client --SMTP--> smtp-sink
# for two servers in the same run, on the same loopback, with the same 4 KiB message and the same sink:
#   edge     edge-transport: the Receive connector Bench (no limits), the accepted domain bench.test
#            (ExternalRelay), and the Send connector ToSink (address space SMTP:bench.test;1, DNS routing
#            off, smart host 127.0.0.1:<its sink's port>), all made with edgectl; every 250 after the
#            durable commit
#   postfix  a private Postfix instance (Debian's package, default settings: every queue file fsynced
#            before its 250; at most 20 parallel deliveries to the relay host) relaying bench.test to
#            its sink
# Each server has its own smtp-sink (Postfix's), started with -c: after every event it writes
# "sess=N quit=N mesg=N\r" to its output file, a cumulative message counter that costs the sink
# nothing. The load client (receive_bench, load mode with --sink-counter) polls the last complete
# record of that file every 2 ms; nothing else needs to be asked of the sink and no message is stored.
#
# One cell per server: SESSIONS (50) sessions send MSGS messages in lock-step, reusing their
# connections, after an unreported warm-up of WARMUP messages that is waited for at the sink too.
#   msgs/s (end to end) = MSGS / (time from the load's start until the sink has counted all of them)
# The client's own accept rate (its 250s) is on the cell line as msgs_per_s; e2e_msgs_per_s is the
# figure that counts.
# Then a latency cell per server: ONE session sends LAT_MSGS messages in lock-step and, after each 250,
# waits until the sink has counted that message (receive_bench --e2e-latency): e2e_p50_ms/e2e_p99_ms
# are the end-to-end latency, the server's 250 to the client → the message's arrival at the sink.
# smtp-sink offers neither CHUNKING nor STARTTLS, so the edge sends it DATA in clear: one write per
# message. The writes that waited for the peer's delayed ACK before the edge set TCP_NODELAY were
# `BDAT … LAST` (command, then content) and the first EHLO after STARTTLS, so a last cell (edge only,
# PEER_LATENCY=1) relays to a peer that offers both: tests/support/smtp_peer.py --chunking --starttls,
# its record directory on /dev/shm, its messages.jsonl (one line per message) as the counter; the
# edge reaches it through a second accepted domain (peer.test, ExternalRelay) and Send connector
# (ToPeer), made live with edgectl. Without TCP_NODELAY this cell shows ~40-50 ms. After the cell the server's queue must drain (Postfix: no queue files left;
# edge-transport: edgectl Get-Message lists nothing) and the sink must have received exactly what was
# accepted (warm-up included): more would be duplicates, fewer a loss. At the end, with the server
# stopped, edge-transport's queue must be empty.
#   edge_sign  (a target, issue 18; needs edge in TARGETS) the same edge-transport signing every message
#            with DKIM (New-DkimSigningConfig for the sender's domain, SIGN_ALGORITHM rsa-sha256 with a
#            2048-bit key, or ed25519-sha256): the Bench connector then holds ExchangeServers rights (the
#            hubs' mail is what the edge signs) in both edge cells, and the `edge` cell runs with the
#            signing configuration disabled, so the two cells differ by signing alone. Run it as:
#              TARGETS="postfix edge edge_sign" LAT_MSGS=0 PEER_LATENCY=0 relay_bench.sh
# Last line:
#   RESULT edge_msgs_per_s=… postfix_msgs_per_s=… ratio=… edge_e2e_p50_ms=… edge_e2e_p99_ms=… postfix_e2e_p50_ms=… postfix_e2e_p99_ms=…
#          edge_bdat_tls_e2e_p50_ms=… edge_bdat_tls_e2e_p99_ms=…
# (ratio = edge / postfix; n/a where a server did not run). Exit status 1 when a cell lost, refused
# or duplicated messages, a queue did not drain, or the edge could not be configured: an edgectl
# without New-SendConnector (a build before the send side) is reported as such, after the Postfix
# cell has run.
#
# Everything is on 127.0.0.1; ports, smtp-sink, the Postfix instance, edge-transport's setup and
# stopping everything by PID come from bench_lib.sh (see its header). Needs root (smtp-sink -u,
# Postfix).
#
# Environment: BUILD (build/release)  WORK (build/bench-data/relay)  TARGETS ("postfix edge")
#   SESSIONS (50)  MSGS (20000)  WARMUP (1000)  SIZE (4096)  DRAIN_TIMEOUT (600 s, per wait)
#   LAT_MSGS (500; 0 = no latency cell)  LAT_WARMUP (20)  PEER_LATENCY (1; 0 = no BDAT/STARTTLS peer cell)
#   POSTFIX_LOG (0; 1 = Postfix logs to $WORK/postfix.log, slower)  KEEP_WORK (0; 1 = keep $WORK)
#   TLS_AUTH (0; 1 = the DomainValidation vs opportunistic TLS cells, issue 20)  TLS_MSGS (4000)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
CLIENT=${CLIENT:-$BUILD/tests/bench/receive_bench}
EDGE=${EDGE:-$BUILD/transport/edge-transport}
EDGECTL=${EDGECTL:-$BUILD/cli/edgectl}
WORK=${WORK:-$ROOT/build/bench-data/relay}
TARGETS=${TARGETS:-postfix edge}
SESSIONS=${SESSIONS:-50}
MSGS=${MSGS:-20000}
WARMUP=${WARMUP:-1000}
SIZE=${SIZE:-4096}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600}
LAT_MSGS=${LAT_MSGS:-500}
LAT_WARMUP=${LAT_WARMUP:-20}
PEER_LATENCY=${PEER_LATENCY:-1}
POSTFIX_LOG=${POSTFIX_LOG:-0}
SIGN_ALGORITHM=${SIGN_ALGORITHM:-rsa-sha256}
RCPT=rcpt@bench.test

BENCH_NAME=relay_bench
# shellcheck source=bench_lib.sh
. "$HERE/bench_lib.sh"

[ "$(id -u)" = 0 ] || fail "must run as root (smtp-sink -u, Postfix)"
[ -x "$CLIENT" ] || fail "no $CLIENT (cmake --build build/release --target receive_bench)"
command -v smtp-sink >/dev/null && command -v postconf >/dev/null || fail "postfix is not installed (make bench-deps)"
if has_target edge; then
  [ -x "$EDGE" ] && [ -x "$EDGECTL" ] || fail "no $EDGE or $EDGECTL (make build-release), or leave edge out of TARGETS"
fi

bench_prepare_work
FAILED=0
EDGE_PROBLEM=""   # why the edge cell could not run

# ---------------------------------------------------------------- Postfix, relaying to its sink
if has_target postfix; then
  pick_port PF_SINK_PORT; pick_port PF_PORT
  PF_SINK_OUT=$WORK/sink-postfix.out
  start_sink "$PF_SINK_PORT" PF_SINK_PID "smtp-sink (postfix's)" "$PF_SINK_OUT" -c
  postfix_start "$PF_PORT" "$PF_SINK_PORT" postfix-relay-bench
  log "postfix $(postconf -h mail_version) on 127.0.0.1:$PF_PORT (master pid $PF_PID), relaying to smtp-sink on $PF_SINK_PORT (pid $PF_SINK_PID)"
fi

# ---------------------------------------------------------------- edge-transport, relaying to its sink
if has_target edge; then
  pick_port EDGE_SINK_PORT
  EDGE_SINK_OUT=$WORK/sink-edge.out
  start_sink "$EDGE_SINK_PORT" EDGE_SINK_PID "smtp-sink (edge's)" "$EDGE_SINK_OUT" -c
  edge_configure ExternalRelay
  # The Send connector: edgectl gains New-SendConnector with the send side. Before that, say so and
  # run the Postfix cell alone.
  if "$EDGECTL" --data "$EDGE_DATA" New-SendConnector -Name ToSink -AddressSpaces "SMTP:bench.test;1" \
       -DNSRoutingEnabled '$false' -SmartHosts 127.0.0.1 -Port "$EDGE_SINK_PORT" >>"$WORK/edgectl.log" 2>&1; then
    if has_target edge_sign; then
      # The load client's From: is <bench@client.bench.test>; the hubs' connector signs.
      edgectl Set-ReceiveConnector Bench -PermissionGroups ExchangeServers -AuthMechanism Tls,ExternalAuthoritative
      edgectl New-DkimSigningKey -DomainName client.bench.test -Selector bench -Algorithm "$SIGN_ALGORITHM" \
        -KeyFile "$WORK/dkim.pem" >/dev/null
      edgectl New-DkimSigningConfig -DomainName client.bench.test -Selector bench -Algorithm "$SIGN_ALGORITHM" \
        -KeyFile "$WORK/dkim.pem"
    fi
    edge_start
    log "edge-transport on 127.0.0.1:$EDGE_PORT (pid $EDGE_PID), data in $EDGE_DATA, Send connector ToSink to smtp-sink on $EDGE_SINK_PORT (pid $EDGE_SINK_PID)"
  else
    if grep -qi "unknown cmdlet New-SendConnector" "$WORK/edgectl.log"; then
      EDGE_PROBLEM="this edgectl has no New-SendConnector (a build without the send side): the edge cell cannot run"
    else
      EDGE_PROBLEM="edgectl New-SendConnector failed: $(tail -3 "$WORK/edgectl.log")"
    fi
    echo "$BENCH_NAME: $EDGE_PROBLEM" >&2
    FAILED=1
  fi
fi

echo "# relay_bench: $(. /etc/os-release; echo "$PRETTY_NAME"), $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# size=$SIZE sessions=$SESSIONS msgs=$MSGS warmup=$WARMUP latency_msgs=$LAT_MSGS targets=[$TARGETS] postfix_log=$POSTFIX_LOG"

# ---------------------------------------------------------------- cells
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
wait_until() {  # wait_until SECONDS WHAT COMMAND... -- poll COMMAND (every 0.1 s) until it succeeds
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "$BENCH_NAME: $what: not within $DRAIN_TIMEOUT s" >&2; return 1; }
    sleep 0.1
  done
}
edge_queue_empty() { [ "$(edge_queued)" = 0 ]; }
postfix_queue_empty() { [ "$(PF_QUEUE_FILES)" = 0 ]; }
declare -A RATE P50 P99
for t in $TARGETS; do
  case $t in
    postfix) port=$PF_PORT; sink_out=$PF_SINK_OUT; empty=postfix_queue_empty ;;
    edge | edge_sign) [ -z "$EDGE_PROBLEM" ] || continue; port=$EDGE_PORT; sink_out=$EDGE_SINK_OUT; empty=edge_queue_empty ;;
    *) fail "unknown target $t (postfix, edge, edge_sign)" ;;
  esac
  if has_target edge_sign; then
    case $t in edge) edgectl Set-DkimSigningConfig client.bench.test -Enabled '$false'; sleep 2 ;;
               edge_sign) edgectl Set-DkimSigningConfig client.bench.test -Enabled '$true'; sleep 2 ;; esac
  fi
  # Both edge cells count at the same sink: each compares what arrived during it.
  sink_before=$(sink_count "$sink_out")
  line=$("$CLIENT" load --label "$t" --port "$port" --sessions "$SESSIONS" --messages "$MSGS" --warmup "$WARMUP" \
           --size "$SIZE" --to "$RCPT" --sink-counter "$sink_out" --sink-timeout "$DRAIN_TIMEOUT") || FAILED=1
  [ -n "$line" ] || { FAILED=1; line="cell target=$t sessions=$SESSIONS e2e_msgs_per_s=0 (client failed)"; }
  echo "$line"
  RATE[$t]=$(field e2e_msgs_per_s "$line")
  a=$(field accepted "$line"); w=$(field warmup_accepted "$line"); accepted=$(( ${a:-0} + ${w:-0} ))
  wait_until "$DRAIN_TIMEOUT" "the $t queue did not drain" "$empty" || FAILED=1
  sleep 1   # a duplicate would arrive now
  received=$(( $(sink_count "$sink_out") - sink_before ))
  check="drained target=$t accepted_total=$accepted sink_received=$received"
  [ "$received" = "$accepted" ] || { FAILED=1; check="$check MISMATCH"; }
  echo "$check"
  # The latency cell: one session, each message waited for at the sink before the next is sent.
  if [ "$LAT_MSGS" -gt 0 ]; then
    line=$("$CLIENT" load --label "$t" --port "$port" --sessions 1 --messages "$LAT_MSGS" --warmup "$LAT_WARMUP" \
             --size "$SIZE" --to "$RCPT" --sink-counter "$sink_out" --sink-timeout 60 --e2e-latency) || FAILED=1
    [ -n "$line" ] || { FAILED=1; line="cell target=$t sessions=1 e2e_p50_ms=n/a (client failed)"; }
    echo "latency_$line"
    P50[$t]=$(field e2e_p50_ms "$line"); P99[$t]=$(field e2e_p99_ms "$line")
    a=$(field accepted "$line"); w=$(field warmup_accepted "$line"); accepted=$(( accepted + ${a:-0} + ${w:-0} ))
    wait_until "$DRAIN_TIMEOUT" "the $t queue did not drain" "$empty" || FAILED=1
    received=$(( $(sink_count "$sink_out") - sink_before ))
    check="drained target=$t accepted_total=$accepted sink_received=$received"
    [ "$received" = "$accepted" ] || { FAILED=1; check="$check MISMATCH"; }
    echo "$check"
  fi
done

# ---------------------------------------------------------------- edge → a CHUNKING + STARTTLS peer, one session
PEER_P50=""; PEER_P99=""
if has_target edge && [ -z "$EDGE_PROBLEM" ] && [ "$LAT_MSGS" -gt 0 ] && [ "$PEER_LATENCY" = 1 ]; then
  PEER_DIR=$(mktemp -d /dev/shm/relay-bench-peer.XXXXXX)
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=peer.test -keyout "$PEER_DIR/key.pem" \
    -out "$PEER_DIR/cert.pem" >/dev/null 2>&1 || fail "openssl could not make the peer's certificate"
  pick_port PEER_PORT
  /usr/bin/python3 "$ROOT/tests/support/smtp_peer.py" --listen "127.0.0.1:$PEER_PORT" --record "$PEER_DIR" \
    --chunking --starttls "$PEER_DIR/cert.pem,$PEER_DIR/key.pem" >"$WORK/smtp_peer.log" 2>&1 &
  SINKS+=("$! smtp_peer.py")
  wait_port "$PEER_PORT" "$!" smtp_peer.py 20
  edgectl New-AcceptedDomain -Name peer -DomainName peer.test -DomainType ExternalRelay
  edgectl New-SendConnector -Name ToPeer -AddressSpaces "SMTP:peer.test;1" -DNSRoutingEnabled '$false' \
    -SmartHosts 127.0.0.1 -Port "$PEER_PORT"
  sleep 2   # the running server applies a config change within a second
  line=$("$CLIENT" load --label edge-bdat-tls --port "$EDGE_PORT" --sessions 1 --messages "$LAT_MSGS" \
           --warmup "$LAT_WARMUP" --size "$SIZE" --to rcpt@peer.test --sink-counter "$PEER_DIR/messages.jsonl" \
           --sink-timeout 60 --e2e-latency) || FAILED=1
  [ -n "$line" ] || { FAILED=1; line="cell target=edge-bdat-tls sessions=1 e2e_p50_ms=n/a (client failed)"; }
  echo "latency_$line"
  PEER_P50=$(field e2e_p50_ms "$line"); PEER_P99=$(field e2e_p99_ms "$line")
  grep -q '"via": *"BDAT"' "$PEER_DIR/messages.jsonl" || echo "# the peer saw no BDAT: the cell did not measure what it says" >&2
  grep -q '"tls": *true' "$PEER_DIR/messages.jsonl" || echo "# the peer saw no TLS: the cell did not measure what it says" >&2
  wait_until "$DRAIN_TIMEOUT" "the edge queue did not drain" edge_queue_empty || FAILED=1
  rm -rf "$PEER_DIR"
fi

# ---------------------------------------------------------------- edge → a TLS peer: DomainValidation vs opportunistic (issue 20)
# TLS_AUTH=1: the same edge relays to one STARTTLS peer (tests/support/smtp_peer.py, a certificate for
# peer-tls.test from a CA made here) twice, SESSIONS sessions each: first opportunistic (no TlsAuthLevel),
# then TlsAuthLevel DomainValidation with TlsDomain peer-tls.test and the CA in TlsCertificateAuthorityFile.
# The ratio dv/opportunistic is the cost of checking the chain and the name (once per connection: the
# edge sends up to SmtpMaxMessagesPerConnection messages on each). The Python peer bounds both cells
# alike, so the ratio, not the rate, is the figure.
TLS_OPP=""; TLS_DV=""
if has_target edge && [ -z "$EDGE_PROBLEM" ] && [ "${TLS_AUTH:-0}" = 1 ]; then
  TLS_DIR=$(mktemp -d /dev/shm/relay-bench-tls.XXXXXX)
  ( cd "$TLS_DIR" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
      -keyout ca.key -out ca.pem &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=peer-tls.test -keyout key.pem -out req.pem &&
    printf 'subjectAltName=DNS:peer-tls.test\n' >ext.cnf &&
    openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem
  ) >/dev/null 2>&1 || fail "openssl could not make the TLS peer's certificates"
  pick_port TLS_PEER_PORT
  /usr/bin/python3 "$ROOT/tests/support/smtp_peer.py" --listen "127.0.0.1:$TLS_PEER_PORT" --record "$TLS_DIR" \
    --chunking --starttls "$TLS_DIR/cert.pem,$TLS_DIR/key.pem" >"$WORK/smtp_peer_tls.log" 2>&1 &
  SINKS+=("$! smtp_peer.py (tls)")
  wait_port "$TLS_PEER_PORT" "$!" smtp_peer.py 20
  edgectl New-AcceptedDomain -Name peertls -DomainName peer-tls.test -DomainType ExternalRelay
  edgectl New-SendConnector -Name ToTlsPeer -AddressSpaces "SMTP:peer-tls.test;1" -DNSRoutingEnabled '$false' \
    -SmartHosts 127.0.0.1 -Port "$TLS_PEER_PORT"
  edgectl Set-TransportServer -TlsCertificateAuthorityFile "$TLS_DIR/ca.pem"
  TLS_MSGS=${TLS_MSGS:-4000}
  for mode in opportunistic dv; do
    if [ "$mode" = dv ]; then
      edgectl Set-SendConnector ToTlsPeer -TlsAuthLevel DomainValidation -TlsDomain peer-tls.test
    fi
    sleep 2   # the running server applies a config change within a second
    before=$(grep -c . "$TLS_DIR/messages.jsonl" 2>/dev/null || echo 0)
    line=$("$CLIENT" load --label "edge-tls-$mode" --port "$EDGE_PORT" --sessions "$SESSIONS" --messages "$TLS_MSGS" \
             --warmup 200 --size "$SIZE" --to rcpt@peer-tls.test --sink-counter "$TLS_DIR/messages.jsonl" \
             --sink-timeout "$DRAIN_TIMEOUT") || FAILED=1
    [ -n "$line" ] || { FAILED=1; line="cell target=edge-tls-$mode e2e_msgs_per_s=0 (client failed)"; }
    echo "$line"
    if [ "$mode" = dv ]; then TLS_DV=$(field e2e_msgs_per_s "$line"); else TLS_OPP=$(field e2e_msgs_per_s "$line"); fi
    wait_until "$DRAIN_TIMEOUT" "the edge queue did not drain" edge_queue_empty || FAILED=1
  done
  grep -q '"tls": *true' "$TLS_DIR/messages.jsonl" || { echo "# the TLS peer saw no TLS" >&2; FAILED=1; }
  rm -rf "$TLS_DIR"
fi

stop_all

# Nothing may be left in edge-transport's queue: checked again with the server down.
if has_target edge && [ -z "$EDGE_PROBLEM" ]; then
  left=$(edge_queued)
  line="edge_queue_after messages=$left"
  [ "$left" = 0 ] || { FAILED=1; line="$line NOT_EMPTY"; "$EDGECTL" --data "$EDGE_DATA" Get-Queue >&2 || true; }
  echo "$line"
fi
[ "${KEEP_WORK:-0}" = 1 ] || [ "$FAILED" = 1 ] || rm -rf "$WORK"

# ---------------------------------------------------------------- summary
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
[ -z "$EDGE_PROBLEM" ] || echo "# edge: $EDGE_PROBLEM"
if has_target edge_sign; then
  R_SIGN=$(ratio "${RATE[edge_sign]:-}" "${RATE[edge]:-}")
  echo "ratio edge_sign_vs_edge=$R_SIGN algorithm=$SIGN_ALGORITHM edge_sign_vs_postfix=$(ratio "${RATE[edge_sign]:-}" "${RATE[postfix]:-}")"
  echo "targets edge_sign>=0.7xedge=$(awk -v v="$R_SIGN" 'BEGIN{ if (v == "n/a") print "n/a"; else if (v + 0 >= 0.7) print "yes"; else print "NO" }')"
fi
if [ "${TLS_AUTH:-0}" = 1 ]; then
  R_DV=$(ratio "$TLS_DV" "$TLS_OPP")
  echo "ratio edge_tls_dv_vs_opportunistic=$R_DV (dv=${TLS_DV:-n/a} opportunistic=${TLS_OPP:-n/a} msgs/s)"
  echo "targets dv>=0.7xopportunistic=$(awk -v v="$R_DV" 'BEGIN{ if (v == "n/a") print "n/a"; else if (v + 0 >= 0.7) print "yes"; else print "NO" }')"
fi
echo "RESULT edge_msgs_per_s=${RATE[edge]:-n/a} postfix_msgs_per_s=${RATE[postfix]:-n/a} ratio=$(ratio "${RATE[edge]:-}" "${RATE[postfix]:-}")" \
  "edge_e2e_p50_ms=${P50[edge]:-n/a} edge_e2e_p99_ms=${P99[edge]:-n/a} postfix_e2e_p50_ms=${P50[postfix]:-n/a} postfix_e2e_p99_ms=${P99[postfix]:-n/a}" \
  "edge_bdat_tls_e2e_p50_ms=${PEER_P50:-n/a} edge_bdat_tls_e2e_p99_ms=${PEER_P99:-n/a}"
exit "$FAILED"
