#!/usr/bin/env bash
# sync_e2e_bench.sh -- EdgeSync end to end, Release build: a private slapd on loopback holding
# USERS users (mail + proxyAddresses), a Release edge-transport with a subscription, and the real
# edgesync agent. Times (1) the first full sync (enrollment, paged LDAP read, hashing, TLS, the
# edge's whole-batch check and one LMDB commit), (2) an incremental sync after deleting 1 % of the
# users in LDAP, and (3) RCPT TO rate against the replicated set through the real SMTP server
# (recipient validation on, no tarpit) -- swaks-free: a small pipelining loop over one session.
#   BUILD=build/release WORK=build/bench-data/sync tests/bench/sync_e2e_bench.sh [USERS]
set -euo pipefail
BENCH_NAME=sync_e2e_bench
BUILD=${BUILD:?BUILD=the Release build directory}
WORK=${WORK:?WORK=a scratch directory}
USERS=${1:-100000}
EDGE=$BUILD/transport/edge-transport; EDGECTL=$BUILD/cli/edgectl; AGENT=$BUILD/edgesync/edgesync
source "$(dirname "$0")/bench_lib.sh"
SLAPD_PID=""
trap 'rc=$?; stop_pid "$SLAPD_PID" slapd; stop_all; exit $rc' EXIT

bench_prepare_work
pick_port LDAP_PORT; pick_port SYNC_PORT
L=$WORK/ldap; mkdir -p "$L/db"
cat >"$L/edge-test.schema" <<EOF
attributetype ( 1.3.6.1.4.1.32473.1.1 NAME 'proxyAddresses' EQUALITY caseIgnoreMatch
  SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.32473.2.1 NAME 'edgeTestRecipient' SUP top AUXILIARY MAY ( proxyAddresses ) )
EOF
cat >"$L/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include $L/edge-test.schema
pidfile $L/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit 1000
limits * size.prtotal=unlimited
database mdb
maxsize 4294967296
suffix "dc=contoso,dc=test"
rootdn "cn=admin,dc=contoso,dc=test"
rootpw secret
directory $L/db
index objectClass eq
EOF
log "writing $USERS users"
awk -v n="$USERS" 'BEGIN {
  print "dn: dc=contoso,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: Contoso\ndc: contoso\n"
  print "dn: ou=people,dc=contoso,dc=test\nobjectClass: organizationalUnit\nou: people\n"
  for (i = 0; i < n; i++) {
    u = sprintf("u%06d", i)
    printf "dn: cn=%s,ou=people,dc=contoso,dc=test\nobjectClass: inetOrgPerson\nobjectClass: edgeTestRecipient\n", u
    printf "cn: %s\nsn: %s\nmail: %s@contoso.test\nproxyAddresses: SMTP:%s@contoso.test\nproxyAddresses: smtp:%s.alias@contoso.test\n\n", u, u, u, u, u
  } }' >"$L/users.ldif"
/usr/sbin/slapadd -q -f "$L/slapd.conf" -l "$L/users.ldif"
/usr/sbin/slapd -d 0 -f "$L/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/" >"$L/slapd.log" 2>&1 &
SLAPD_PID=$!
wait_port "$LDAP_PORT" "$SLAPD_PID" slapd 20

edge_configure Authoritative
edgectl Set-AcceptedDomain bench -DomainName contoso.test
edgectl Set-RecipientFilterConfig -RecipientValidationEnabled '$true'
edgectl New-EdgeSubscription -FileName "$WORK/edge.sub" -Port "$SYNC_PORT"
edge_start
wait_port "$SYNC_PORT" "$EDGE_PID" "edge-transport sync listener" 20
echo secret >"$WORK/ldap.password"
agent() {
  "$AGENT" --subscription "$WORK/edge.sub" --ldap-uri "ldap://127.0.0.1:$LDAP_PORT" \
    --bind-dn cn=admin,dc=contoso,dc=test --password-file "$WORK/ldap.password" --base-dn dc=contoso,dc=test \
    --hub 127.0.0.1:2626 --site Bench --accepted-domain contoso.test --state-dir "$WORK/agent" \
    --edge "127.0.0.1:$SYNC_PORT" --name bench --once "$@" 2>>"$WORK/agent.log"
}
now() { date +%s.%N; }
t0=$(now); agent; t1=$(now)
full_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
count=$("$EDGECTL" --data "$EDGE_DATA" Get-EdgeSubscription -Format List | awk '/^RecipientCount/ { print $3 }')
[ "$count" = $((USERS * 2)) ] || fail "the edge holds $count recipients, expected $((USERS * 2))"
log "full sync: $full_s s for $count addresses"

dels=$((USERS / 100))
awk -v n="$dels" 'BEGIN { for (i = 0; i < n; i++) printf "cn=u%06d,ou=people,dc=contoso,dc=test\n", i }' >"$WORK/del.txt"
ldapdelete -x -H "ldap://127.0.0.1:$LDAP_PORT" -D cn=admin,dc=contoso,dc=test -w secret -f "$WORK/del.txt"
t0=$(now); agent; t1=$(now)
delta_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
grep -q "incremental (+0 -$((dels * 2)))" "$WORK/agent.log" || fail "the second sync was not the expected delta: $(tail -2 "$WORK/agent.log")"
log "incremental sync (-$((dels * 2)) addresses): $delta_s s"

# RCPT rate through the server: 20,000 RCPTs pipelined in batches of 100 over one session.
sleep 1.5  # ConfigPollInterval: the server has the new hash key and set
rcpts=20000
rcpt_s=$(python3 - "$EDGE_PORT" "$rcpts" "$USERS" <<'PY'
import socket, sys, time
port, n, users = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
def line():
    l = f.readline()
    while l[3:4] == b"-": l = f.readline()
    return l
line(); s.sendall(b"EHLO bench.test\r\n"); line()
t = time.time(); ok = bad = 0
for start in range(0, n, 100):
    s.sendall(b"MAIL FROM:<a@b.test>\r\n" + b"".join(
        (b"RCPT TO:<u%06d@contoso.test>\r\n" % ((start + i) % users) if i % 2 == 0 else b"RCPT TO:<nobody%d@contoso.test>\r\n" % (start + i))
        for i in range(100)) + b"RSET\r\n")
    line()
    for i in range(100):
        r = line()
        ok += r.startswith(b"250"); bad += r.startswith(b"550 5.1.1")
    line()
elapsed = time.time() - t
assert bad >= n // 2, (ok, bad)
print("%.3f" % elapsed)
PY
)
rate=$(awk "BEGIN { printf \"%d\", $rcpts / $rcpt_s }")
log "RCPT: $rcpts in $rcpt_s s"
echo "RESULT users=$USERS addresses=$((USERS * 2)) full_sync_s=$full_s incremental_sync_s=$delta_s rcpt_per_s=$rate"
