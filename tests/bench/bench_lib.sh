# shellcheck shell=bash
# bench_lib.sh -- the shell parts the loopback benchmarks share (sourced by receive_bench.sh and
# relay_bench.sh, never run): messages, processes we own and stop by PID, free ports, smtp-sink, a
# private Postfix instance, edge-transport configured with edgectl.
#
# The sourcing script sets, before calling anything here:
#   BENCH_NAME  prefix of error messages          WORK     the work directory (emptied by bench_prepare_work)
#   EDGE EDGECTL  the binaries (edge functions)   POSTFIX_LOG  0 | 1 (postfix_start)
# and gets: EDGE_PID, EDGE_PORT, EDGE_DATA, PF_PID, PF_PORT, PF_SPOOL, … as the functions below say.
#
# Ports are picked from 20000–31999 after `ss` shows them unused in any state. smtp-sink and Postfix's
# smtpd listen with SO_REUSEPORT: a leftover listener on the same port would start without error and
# silently take half of the connections, so every listener is also checked to be the process we started.
# The Postfix instance has its own configuration, queue and data directories under $WORK and leaves
# /etc/postfix and any system Postfix alone. stop_all (run by the EXIT trap) stops everything we
# started, edge-transport first, by PID.

log() { echo "# $*" >&2; }
fail() { echo "$BENCH_NAME: $*" >&2; exit 1; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

# ---------------------------------------------------------------- processes we own
EDGE_PID=""; POSTFIX_STARTED=0
SINKS=()   # "pid name" of every smtp-sink we started, in start order
HELPERS=() # "pid name" of the other servers we started (rspamd, milter_accept), in start order

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

stop_edge() {
  [ -n "$EDGE_PID" ] || return 0
  stop_pid "$EDGE_PID" edge-transport
  wait "$EDGE_PID" 2>/dev/null && log "edge-transport exited 0" || log "edge-transport exited $?"
  EDGE_PID=""
}

stop_all() {
  stop_edge
  if [ -n "${NSD_PID:-}" ]; then stop_pid "$NSD_PID" nsd; NSD_PID=""; fi
  if [ "$POSTFIX_STARTED" = 1 ]; then stop_pid "$(postfix_master_pid)" "postfix master"; POSTFIX_STARTED=0; fi
  local s
  for s in "${HELPERS[@]}"; do stop_pid "${s%% *}" "${s#* }"; done
  HELPERS=()
  for s in "${SINKS[@]}"; do stop_pid "${s%% *}" "${s#* }"; done
  SINKS=()
}
trap 'rc=$?; stop_all; exit $rc' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- ports
USED_PORTS=" "
port_busy() { [ -n "$(ss -Htan "( sport = :$1 or dport = :$1 )" 2>/dev/null)" ]; }
pick_port() {  # pick_port VAR -- a port below the ephemeral range that no socket uses, in any state
  local p
  for _ in $(seq 1 500); do
    p=$((20000 + RANDOM % 12000))
    [[ "$USED_PORTS" == *" $p "* ]] && continue
    port_busy "$p" && continue
    USED_PORTS="$USED_PORTS$p "; printf -v "$1" '%s' "$p"; return 0
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

bench_prepare_work() { rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"; }

# ---------------------------------------------------------------- smtp-sink
# start_sink PORT VAR NAME [OUTPUT [OPTION...]] -- an smtp-sink on 127.0.0.1:PORT (backlog 1024), its
# PID in VAR, its output appended to OUTPUT ($WORK/smtp-sink.log); OPTIONs go before the address
# (-c: print the session and message counters after every event).
start_sink() {
  local port=$1 var=$2 name=$3 out=${4:-$WORK/smtp-sink.log}
  shift 3
  if [ $# -gt 0 ]; then shift; fi
  smtp-sink -u nobody "$@" "127.0.0.1:$port" 1024 >>"$out" 2>&1 &
  printf -v "$var" '%s' "$!"
  SINKS+=("$! $name")
  wait_port "$port" "${!var}" smtp-sink 10
  check_sole_listener "$port" "${!var}" smtp-sink
}
# The messages an smtp-sink started with -c has received (its last complete counter record).
sink_count() {
  local l; l=$(tail -c 200 "$1" 2>/dev/null | tr '\r' '\n' | grep 'mesg=' | tail -1); l=${l##*mesg=}; echo "${l:-0}"
}

# ---------------------------------------------------------------- Postfix (private instance)
PF_ETC=""; PF_SPOOL=""; PF_LIB=""
PF_QUEUE_FILES() { find "$PF_SPOOL"/incoming "$PF_SPOOL"/active "$PF_SPOOL"/deferred "$PF_SPOOL"/hold "$PF_SPOOL"/maildrop -type f 2>/dev/null | wc -l; }
postfix_drain() {  # Postfix relays while it accepts; let it finish before the next cell runs
  local n
  for _ in $(seq 1 6000); do n=$(PF_QUEUE_FILES); [ "$n" = 0 ] && return 0; sleep 0.1; done
  fail "the Postfix queue still holds $n files after 600 s"
}
# postfix_start PORT RELAY_PORT SYSLOG_NAME -- a private instance of Debian's Postfix in $WORK/postfix,
# listening on 127.0.0.1:PORT, relaying bench.test to the smtp-sink on RELAY_PORT; sets PF_PID.
postfix_start() {
  local port=$1 relay_port=$2 syslog_name=$3 maillog=""
  PF_ETC=$WORK/postfix/etc; PF_SPOOL=$WORK/postfix/spool; PF_LIB=$WORK/postfix/lib
  mkdir -p "$PF_ETC" "$PF_SPOOL" "$PF_LIB"
  chown postfix:postfix "$PF_LIB"
  if [ "${POSTFIX_LOG:-0}" = 1 ]; then maillog=$WORK/postfix.log; fi
  # Only what the instance needs to be a loopback relay; every other setting is Postfix's default
  # (queue files fsynced before the 250, 20 parallel deliveries per destination, connection cache
  # on demand).
  cat >"$PF_ETC/main.cf" <<EOF
# $BENCH_NAME: a private Postfix instance (postfix -c $PF_ETC)
compatibility_level = 3.6
queue_directory = $PF_SPOOL
data_directory = $PF_LIB
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
syslog_name = $syslog_name
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains = bench.test
relayhost = [127.0.0.1]:$relay_port
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_tls_security_level = none
smtpd_tls_security_level = ${PF_TLS_LEVEL:-none}
${PF_TLS_FILES:-}
maillog_file = $maillog
maillog_file_prefixes = $WORK
biff = no
EOF
  cp /usr/share/postfix/master.cf.dist "$PF_ETC/master.cf"
  postconf -c "$PF_ETC" -F '*/*/chroot = n'          # the chroot of a private instance is not populated
  postconf -c "$PF_ETC" -M# smtp/inet
  postconf -c "$PF_ETC" -M "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd"
  postfix -c "$PF_ETC" check
  postfix -c "$PF_ETC" start >/dev/null 2>&1 || fail "postfix -c $PF_ETC start failed (rerun with POSTFIX_LOG=1 and read $WORK/postfix.log)"
  POSTFIX_STARTED=1
  for _ in $(seq 1 100); do [ -n "$(postfix_master_pid)" ] && break; sleep 0.1; done
  PF_PID=$(postfix_master_pid); [ -n "$PF_PID" ] || fail "postfix did not start (rerun with POSTFIX_LOG=1)"
  wait_port "$port" "$PF_PID" "postfix master" 20
  check_sole_listener "$port" "$PF_PID" "postfix master"
}

# postfix_milters MILTERS -- set smtpd_milters of the running private instance ("" for none) and
# reload; new smtpd processes (one per connection with MODE=new-connection) use it. The other
# milter settings are Postfix's defaults, written out: protocol 6, tempfail when the milter fails,
# 30 s to connect and per command (the MilterServer defaults too).
postfix_milters() {
  postconf -c "$PF_ETC" -e "smtpd_milters = $1" milter_protocol=6 milter_default_action=tempfail \
    milter_connect_timeout=30s milter_command_timeout=30s
  postfix -c "$PF_ETC" reload >/dev/null 2>&1 || fail "postfix reload failed"
  sleep 2   # the master restarts its services; smtpd processes already running finish their session first
}

# ---------------------------------------------------------------- milters on loopback
# rspamd_start -- Debian's rspamd in the foreground from $WORK/rspamd with its default configuration
# and these overrides only: its normal, controller and proxy workers on free loopback ports, the
# proxy in milter mode (Debian's worker-proxy.inc) forwarding to the normal worker, and DNS sent to
# a closed loopback port (no network lookups: DNS lists and SURBLs fail at once). Its compiled
# regular expressions are kept in RSPAMD_CACHE between runs (the first start compiles them, 15-45 s).
# Returns once GTUBE through the milter port is answered 554 (milter_probe.py). Sets RSPAMD_PORT
# (the milter) and RSPAMD_PID.
rspamd_start() {
  local d=$WORK/rspamd normal controller t0=$SECONDS
  RSPAMD_CACHE=${RSPAMD_CACHE:-$(dirname "$WORK")/rspamd-cache}
  mkdir -p "$d/local/override.d" "$d/local/local.d" "$d/run" "$d/db" "$d/log" "$RSPAMD_CACHE"
  pick_port normal; pick_port controller; pick_port RSPAMD_PORT
  printf 'bind_socket = "127.0.0.1:%s";\n' "$normal" >"$d/local/override.d/worker-normal.inc"
  printf 'bind_socket = "127.0.0.1:%s";\n' "$controller" >"$d/local/override.d/worker-controller.inc"
  printf 'bind_socket = "127.0.0.1:%s";\nmilter = yes;\ntimeout = 120s;\nupstream "local" { default = yes; hosts = "127.0.0.1:%s"; }\n' \
    "$RSPAMD_PORT" "$normal" >"$d/local/override.d/worker-proxy.inc"
  printf 'dns { nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 1; }\n' >"$d/local/local.d/options.inc"
  cp "$RSPAMD_CACHE"/*.hs* "$d/db/" 2>/dev/null || true
  chown -R _rspamd:_rspamd "$d"
  rspamd -f -u _rspamd -g _rspamd -c /etc/rspamd/rspamd.conf --var=LOCAL_CONFDIR="$d/local" --var=RUNDIR="$d/run" \
    --var=DBDIR="$d/db" --var=LOGDIR="$d/log" >"$d/rspamd.out" 2>&1 &
  RSPAMD_PID=$!
  HELPERS+=("$RSPAMD_PID rspamd")
  printf 'From: a@fabrikam.test\r\nTo: b@bench.test\r\nSubject: gtube\r\n\r\n%s\r\n' \
    'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' >"$d/gtube.eml"
  until port_open "$RSPAMD_PORT" && /usr/bin/python3 "$ROOT/tests/support/milter_probe.py" "127.0.0.1:$RSPAMD_PORT" "$d/gtube.eml" 2>/dev/null | tail -1 | grep -q '^replycode 554'; do
    kill -0 "$RSPAMD_PID" 2>/dev/null || fail "rspamd exited at start: $(tail -5 "$d/rspamd.out" "$d/log/rspamd.log" 2>/dev/null)"
    [ $((SECONDS - t0)) -lt 180 ] || fail "rspamd did not answer GTUBE on 127.0.0.1:$RSPAMD_PORT within 180 s"
    sleep 0.5
  done
  cp -n "$d/db"/*.hs* "$RSPAMD_CACHE/" 2>/dev/null || true
  log "rspamd $(rspamd --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1) milter on 127.0.0.1:$RSPAMD_PORT (pid $RSPAMD_PID), GTUBE refused after $((SECONDS - t0)) s"
}
# milter_accept_start BINARY -- the milter that accepts at connect (tests/bench/milter_accept.cpp)
# on a free loopback port; sets MILTER_ACCEPT_PORT and MILTER_ACCEPT_PID.
milter_accept_start() {
  pick_port MILTER_ACCEPT_PORT
  "$1" "127.0.0.1:$MILTER_ACCEPT_PORT" >"$WORK/milter_accept.out" 2>&1 &
  MILTER_ACCEPT_PID=$!
  HELPERS+=("$MILTER_ACCEPT_PID milter_accept")
  wait_port "$MILTER_ACCEPT_PORT" "$MILTER_ACCEPT_PID" milter_accept 10
}

# ---------------------------------------------------------------- edge-transport
edgectl() { "$EDGECTL" --data "$EDGE_DATA" "$@" >>"$WORK/edgectl.log" 2>&1 || fail "edgectl $* failed: $(tail -3 "$WORK/edgectl.log")"; }
# edge_configure DOMAIN_TYPE -- a data directory and config file in $WORK/edge, the accepted domain
# bench.test of that type, and the Receive connector Bench (no limits) on EDGE_PORT.
edge_configure() {
  pick_port EDGE_PORT; pick_port EDGE_DEFAULT_PORT
  EDGE_DATA=$WORK/edge/data; EDGE_CONF=$WORK/edge/edge-transport.conf
  mkdir -p "$EDGE_DATA"
  cat >"$EDGE_CONF" <<EOF
# $BENCH_NAME: edge-transport under test (protocol logs off: their default)
ServerFqdn = edge.bench.test
DataDirectory = $EDGE_DATA
DefaultReceiveConnectorBindings = 127.0.0.1:$EDGE_DEFAULT_PORT
EOF
  edgectl New-AcceptedDomain -Name bench -DomainName bench.test -DomainType "$1"
  # The default connector's limits (100 connections per source, 2 % per source, 1 min of inactivity)
  # would break the 50-session and idle cells: the client uses a connector without limits.
  edgectl New-ReceiveConnector -Name Bench -Bindings "127.0.0.1:$EDGE_PORT" -RemoteIPRanges 127.0.0.0/8 \
    -PermissionGroups AnonymousUsers -MaxInboundConnection unlimited -MaxInboundConnectionPerSource unlimited \
    -MaxInboundConnectionPercentagePerSource 100 -TarpitInterval 00:00:00 -ConnectionInactivityTimeout 00:10:00 \
    -ConnectionTimeout 01:00:00
  # Nothing leaves loopback: the agents' DNS (FCrDNS, SPF, DMARC) goes to a closed local port and
  # fails at once, unless a target starts its own NSD and points the server at it.
  edgectl Set-TransportServer -InternalDNSServers 127.0.0.1:9
  # The transport core is compared with Postfix as Postfix runs by default: without SPF, DKIM and
  # DMARC (issue 18), nor content and attachment filtering (issue 19; on by default, as in
  # Exchange). receive_bench's edge_auth and edge_content targets measure them.
  local a
  for a in "Sender Id Agent" "DKIM Verification Agent" "DMARC Agent" "Content Filter Agent" "Attachment Filtering Agent"; do
    edgectl Disable-TransportAgent "$a"
  done
}
edge_start() {
  "$EDGE" --config "$EDGE_CONF" --data "$EDGE_DATA" >"$WORK/edge-transport.log" 2>&1 &
  EDGE_PID=$!
  wait_port "$EDGE_PORT" "$EDGE_PID" edge-transport 20
  check_sole_listener "$EDGE_PORT" "$EDGE_PID" edge-transport
}
# The messages in edge-transport's queue (edgectl Get-Message: rows after the two header lines).
edge_queued() { "$EDGECTL" --data "$EDGE_DATA" Get-Message | awk 'NR > 2 && NF > 0 { n++ } END { print n + 0 }'; }

# ---------------------------------------------------------------- a DNS server (NSD) on loopback
# nsd_start ZONE_DIR ZONE... -- Debian's NSD, authoritative for each ZONE from ZONE_DIR/ZONE.zone, on
# 127.0.0.1:NSD_PORT (UDP and TCP), in the foreground from $WORK/nsd (no user switch, no chroot, no
# database). Sets NSD_PORT and NSD_PID; returns once it accepts TCP (NSD reads its zones first).
NSD_PID=""
nsd_start() {
  local zdir=$1; shift
  local d=$WORK/nsd z
  mkdir -p "$d"
  pick_port NSD_PORT
  {
    echo "server:"
    echo "  ip-address: 127.0.0.1@$NSD_PORT"
    echo "  port: $NSD_PORT"
    echo "  do-ip6: no"
    echo "  username: \"\""
    echo "  chroot: \"\""
    echo "  zonesdir: \"$zdir\""
    echo "  database: \"\""
    echo "  zonelistfile: \"$d/zone.list\""
    echo "  pidfile: \"$d/nsd.pid\""
    echo "  xfrdfile: \"$d/xfrd.state\""
    echo "  xfrdir: \"$d\""
    echo "  logfile: \"$d/nsd.log\""
    echo "  server-count: 1"
    echo "  reuseport: no"
    echo "  verbosity: 1"
    echo "remote-control:"
    echo "  control-enable: no"
    for z in "$@"; do printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "$z"; done
  } >"$d/nsd.conf"
  nsd -d -c "$d/nsd.conf" >"$d/nsd.out" 2>&1 &
  NSD_PID=$!
  wait_port "$NSD_PORT" "$NSD_PID" nsd 20
}
