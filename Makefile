# edge-transport — the two commands of the README, and a few helpers.
#   make run    install what is missing, build (Release), start on the default config, data in ./data
#   make test   install what is missing, build (ASan+UBSan), run the whole suite through CTest
#   make bench  Release benchmarks (not part of make test): queue_bench, receive_bench, relay_bench
#   make bench-receive   only the receive-side benchmark (edge-transport vs Postfix vs smtp-sink)
#   make bench-agents    the receive benchmark with the anti-spam agents off and on (issue 17)
#   make bench-milter    the receive benchmark with rspamd as milter, edge vs Postfix (issue 19)
#   make bench-backlog   a million queued messages: edgectl, start, drain, and the drain against Postfix (issue 21)
#   make bench-relay     only the relay benchmark (client -> server -> queue -> smtp-sink, edge-transport vs Postfix)
#   make tsan       ThreadSanitizer build of the threaded tests (queue-db concurrency, committer, delivery pool, sync apply)
#   make bench-sync      EdgeSync: full sync of 100,000 recipients (edge side, and end to end from slapd), RCPT rates
#   make deb    the Debian packages edge-transport and edgesync in build/deb/ (debhelper, Release), lintian-checked
#   make fuzz   libFuzzer (clang-14) runs every fuzz target FUZZ_TIME seconds (default 60);
#               make fuzz FUZZ_TARGET=smtp_session FUZZ_TIME=600 runs one. See tests/fuzz/README.md.

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
DATA_DIR  ?= $(CURDIR)/data
RELEASE   := build/release
SANITIZE  := build/asan
TSAN      := build/tsan
BENCH_DIR ?= $(CURDIR)/build/bench-data

# Debian 12 packages the build and the tests need. libboost1.81-dev: Asio 1.26.
# python3 + python3-aiosmtpd: the scripted SMTP peer of the tests (tests/support/smtp_peer.py),
# and python3's email package checks the DSNs we build (tests/support/parse_dsn.py).
# nsd: a real DNS server on loopback for the MX tests; ldnsutils: drill, to see it answer.
# bash-completion: loads edgectl's completion (installed per user by make run).
# ccache: rebuilds compile only what changed (CMakeLists.txt uses it when present).
# libldap-dev: the edgesync agent reads the directory; slapd + ldap-utils: a real OpenLDAP on
# loopback for the EdgeSync tests (Debian may start its own slapd on install; ours has its own port).
DEB_PACKAGES := g++ cmake make pkg-config libboost1.81-dev libssl-dev liblmdb-dev \
                libldns-dev libfmt-dev catch2 openssl lmdb-utils swaks python3 python3-aiosmtpd \
                nsd ldnsutils bash-completion libldap-dev slapd ldap-utils ccache \
                libidn2-dev libunistring-dev libpsl-dev publicsuffix python3-dkim python3-spf python3-yaml \
                libgmime-3.0-dev \
                rspamd clamav-daemon clamav-milter unbound zlib1g-dev \
                prometheus \
                libsystemd-dev \
                groff-base man-db
# libidn2-dev: IDNA2008 domains in addresses; libunistring-dev: case folding of UTF-8 local
# parts (transport/smtp/address.cpp, the one canonical form of an address).
# libpsl-dev + publicsuffix: DMARC's organisational domain (issue 18); python3-dkim (dkimpy) and
# python3-spf (pyspf's RFC 7208 test suite) are the independent implementations the tests check against.
# libgmime-3.0-dev: the Attachment Filtering Agent reads MIME header blocks with GMime 3 (transport/mime, issue 19).
# rspamd, clamav-daemon, clamav-milter (issue 19): the real scanners the Content Filter tests start on
# loopback (tests/support/scanner_servers.hpp). They start system services when installed: see
# install_missing, which installs with a temporary policy-rc.d (exit 101) that invoke-rc.d obeys.
# unbound (issue 20): the validating resolver the DANE tests put in front of NSD's signed zones (AD bit).
# zlib1g-dev (issue 20): TLS-RPT reports are mailed gzip'd (RFC 8460 §5.3, transport/sts/tls_report.cpp).
# prometheus (issue 21): the real Prometheus server and promtool the metrics test runs against our /metrics
# (tests/integration/test_metrics_live.cpp); its system service is not started (install_missing's policy-rc.d).
# libsystemd-dev (issue 21): sd_notify for Type=notify units (READY, RELOADING, STOPPING, WATCHDOG, STATUS).
# groff-base, man-db (issue 21): the man page tests run groff -ww and man --warnings as lintian does
# (priority important, so usually present; not in minimal container images).
# ccache keys on paths relative to the checkout, so another clone of the tree reuses the cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The fuzz build (not needed by make test: the corpus regression builds with g++).
# clang-14: the compiler with libFuzzer; libclang-rt-14-dev: its fuzzer and sanitizer runtimes.
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev
FUZZ_DIR      := build/fuzz
FUZZ_TIME     ?= 60
FUZZ_TARGET   ?=
FUZZ_JOBS     ?= $(if $(filter 1,$(JOBS)),1,2)

.PHONY: deps deb-deps deb bench-deps fuzz-deps build-fuzz fuzz run test tsan bench bench-receive bench-agents bench-milter bench-relay bench-backlog bench-sync build-release build-asan clean

# $(call install_missing,PACKAGES): apt-get installs those of PACKAGES that are not installed.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1; \
	  [ $$had_policy = 1 ] || printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null; \
	  [ $$had_policy = 1 ] || $(SUDO) chmod 755 /usr/sbin/policy-rc.d; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  [ $$had_policy = 1 ] || $(SUDO) rm -f /usr/sbin/policy-rc.d; \
	fi
endef

# Installs only what is missing; silent when everything is there.
deps:
	$(call install_missing,$(DEB_PACKAGES))

# The benchmarks' own packages (not needed by make test): Postfix, with smtp-sink. Installing it
# on Debian may start the system Postfix; if it was not running before, it is stopped again.
bench-deps: deps
	@dpkg-query -W -f='$${Status}' postfix 2>/dev/null | grep -q 'install ok installed' || { \
	  pidfile=/var/spool/postfix/pid/master.pid; \
	  running() { [ -r $$pidfile ] && kill -0 $$(awk 'NR==1{print $$1}' $$pidfile) 2>/dev/null; }; \
	  was_running=0; running && was_running=1; \
	  echo "installing: postfix"; \
	  echo "postfix postfix/main_mailer_type select Local only" | $(SUDO) debconf-set-selections; \
	  echo "postfix postfix/mailname string $$(hostname)" | $(SUDO) debconf-set-selections; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null; \
	  if [ $$was_running = 0 ] && running; then $(SUDO) kill -TERM $$(awk 'NR==1{print $$1}' $$pidfile); fi; \
	}

fuzz-deps: deps
	$(call install_missing,$(FUZZ_PACKAGES))

build-fuzz: fuzz-deps
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DEDGE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(FUZZ_DIR) -j $(FUZZ_JOBS)

# Each target for FUZZ_TIME seconds over its seed corpus (tests/fuzz/corpus/<name>, read
# only) and a scratch corpus of what it finds ($(FUZZ_DIR)/corpus/<name>); crashes land
# in $(FUZZ_DIR)/crashes/<name>/ and stop the run with the reproducer's path.
fuzz: build-fuzz
	@set -e; for t in $(or $(FUZZ_TARGET),$$(sed -n '/^set(EDGE_FUZZ_TARGETS/,/^)/{/^  /p}' tests/fuzz/CMakeLists.txt)); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/crashes/$$t; \
	  dict=""; for d in tests/fuzz/$$t.dict tests/fuzz/$${t%%_*}.dict; do [ -f $$d ] && { dict="-dict=$$d"; break; }; done; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	  $(FUZZ_DIR)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 $$dict \
	    -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
	    > $(FUZZ_DIR)/$$t.log 2>&1 || { tail -40 $(FUZZ_DIR)/$$t.log; echo "fuzz: $$t FAILED (log: $(FUZZ_DIR)/$$t.log)"; exit 1; }; \
	  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' $(FUZZ_DIR)/$$t.log | tail -2; \
	done

# The Debian package's own tools (not needed by make test): debhelper (dh, compat 13),
# lintian (make deb checks its output), fakeroot and dpkg-dev (dpkg-buildpackage); then
# debian/control's Build-Depends, through apt's build-dep on the tree, if any is missing.
DEB_TOOL_PACKAGES := debhelper lintian fakeroot dpkg-dev
DEB_DIR := build/deb
deb-deps:
	$(call install_missing,$(DEB_TOOL_PACKAGES))
	@dpkg-checkbuilddeps >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq ./ >/dev/null

# The packages edge-transport and edgesync (debian/, README "Install from a package"): built
# from a copy of the tree in $(DEB_DIR)/src, so the tree gets no debian/ leftovers and the
# .debs land in $(DEB_DIR)/. A Release build; the tests are not run (debian/rules). lintian
# at its default level must report no error and no warning. Not part of make test (minutes).
# ccache: the shared cache, not the one under debhelper's own HOME.
deb: deb-deps
	@rm -rf $(DEB_DIR)/src $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	@mkdir -p $(DEB_DIR)/src
	@tar --exclude=./build --exclude=./.git --exclude=./data -cf - . | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && env CCACHE_DIR=$${CCACHE_DIR:-$$HOME/.cache/ccache} \
	  DEB_BUILD_OPTIONS="$(or $(DEB_BUILD_OPTIONS),parallel=$(JOBS) nocheck)" dpkg-buildpackage -b -uc -us
	lintian --fail-on error,warning $(DEB_DIR)/*.changes
	@ls -l $(DEB_DIR)/*.deb

build-release: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DEDGE_BUILD_TESTS=OFF -DEDGE_BUILD_BENCH=ON >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(RELEASE) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Debug -DEDGE_SANITIZE=ON -DEDGE_BUILD_TESTS=ON >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(SANITIZE) -j $(JOBS)

# The server on its default config, data in ./data, the default Receive connector on a
# loopback high port (no root needed). Ctrl-C stops it cleanly.
RUN_BINDING ?= 127.0.0.1:2525
COMPLETIONS ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/bash-completion/completions
run: build-release
	@mkdir -p $(DATA_DIR) $(COMPLETIONS)
	@install -m 0644 conf/edgectl.bash-completion $(COMPLETIONS)/edgectl
	@echo "edgectl: bash completion installed in $(COMPLETIONS)/edgectl (new shells; 'edgectl help' lists the cmdlets)"
	@echo "edge-transport: SMTP on $(RUN_BINDING), data in $(DATA_DIR); edgectl: $(RELEASE)/cli/edgectl --data $(DATA_DIR) Get-ReceiveConnector"
	$(RELEASE)/transport/edge-transport --config conf/edge-transport.conf --data $(DATA_DIR) \
	  --set DefaultReceiveConnectorBindings=$(RUN_BINDING)

# The tests wait more than they compute (servers on loopback, timers, a peer's reply): one
# more ctest job than cores keeps both cores busy (measured: 250 s at -j2, 189-198 s at -j3,
# every test passing, on 2 cores).
TEST_JOBS ?= $(shell echo $$(( $(JOBS) + 1 )))

test: build-asan
	cd $(SANITIZE) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(TEST_JOBS) --timeout 600

# ThreadSanitizer (not part of make test: a build of its own and ~N minutes). The programs whose
# tests run threads: queue-db (committer, many producers), the server on loopback (group commit,
# delivery pool, the EdgeSync apply thread) and the agent. The server runs as a child of the tests:
# every process writes its reports under $(TSAN)/reports, and any report fails the target.
TSAN_TESTS := tests/unit/queue_db_tests tests/integration/receive_tests tests/integration/send_tests \
              tests/integration/edgectl_live_tests tests/integration/edgesync_integration_tests
tsan: deps
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DEDGE_TSAN=ON -DEDGE_BUILD_TESTS=ON >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(TSAN) -j $(JOBS) --target edge-transport edgectl edgesync $(notdir $(TSAN_TESTS))
	@rm -rf $(TSAN)/reports && mkdir -p $(TSAN)/reports
	@status=0; for t in $(TSAN_TESTS); do \
	  echo "tsan: $$t"; \
	  ( cd $(TSAN)/$$(dirname $$t) && TSAN_OPTIONS="log_path=$(CURDIR)/$(TSAN)/reports/tsan second_deadlock_stack=1 history_size=4 die_after_fork=0" \
	    ./$$(basename $$t) --reporter compact ) || status=1; \
	done; \
	if ls $(TSAN)/reports | grep -q .; then echo "tsan: reports in $(TSAN)/reports:"; ls $(TSAN)/reports; status=1; \
	else echo "tsan: no data race reported"; fi; exit $$status

bench: build-release bench-deps
	@mkdir -p $(BENCH_DIR)
	$(RELEASE)/tests/bench/queue_bench --dir $(BENCH_DIR)
	$(RELEASE)/tests/bench/sync_bench --dir $(BENCH_DIR)
	@env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/sync tests/bench/sync_e2e_bench.sh
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/receive tests/bench/receive_bench.sh
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/relay tests/bench/relay_bench.sh

# Issue 21: a backlog of a million messages (edgectl on it, start after a clean stop and after kill -9,
# the drain to smtp-sink) and an equal-backlog drain against Postfix. MSGS=… for another size.
bench-backlog: build-release bench-deps
	@mkdir -p $(BENCH_DIR)
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/backlog tests/bench/backlog_bench.sh

# The receive-side benchmark alone; its last line is the RESULT line.
bench-receive: build-release bench-deps
	@mkdir -p $(BENCH_DIR)
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/receive tests/bench/receive_bench.sh

# Issue 17's cell: the same edge-transport with the anti-spam agents off, then on (100,000 IP
# Block List entries, two DNSBL and one DNSWL provider on NSD), a new connection per message,
# 50 sessions, against Postfix in the same run.
bench-agents: build-release bench-deps
	@mkdir -p $(BENCH_DIR)
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/agents TARGETS="postfix edge edge_agents" \
	  MODE=new-connection SESSIONS=50 IDLE=0 tests/bench/receive_bench.sh

# Issue 19's cell: one rspamd on loopback (default configuration, no network lookups) as the
# milter of the edge (Milter + Content Filter agents) and of Postfix (smtpd_milters), and the
# accept-at-once milter (tests/bench/milter_accept) for the milter conversation's own cost; every
# other agent off; 4 KiB messages, a new connection per message, 50 sessions.
bench-milter: build-release bench-deps
	@mkdir -p $(BENCH_DIR)
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/milter RSPAMD_CACHE=$(BENCH_DIR)/rspamd-cache \
	  TARGETS="postfix postfix_milter_accept postfix_rspamd edge edge_milter_accept edge_rspamd" \
	  MODE=new-connection SESSIONS=50 IDLE=0 tests/bench/receive_bench.sh

# The relay benchmark alone; its last line is the RESULT line.
bench-relay: build-release bench-deps
	@mkdir -p $(BENCH_DIR)
	@$(SUDO) env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/relay tests/bench/relay_bench.sh

# EdgeSync on the edge: a full sync of 100,000 recipients, and RCPT lookups per second.
bench-sync: build-release
	@mkdir -p $(BENCH_DIR)
	$(RELEASE)/tests/bench/sync_bench --dir $(BENCH_DIR)
	@env BUILD=$(CURDIR)/$(RELEASE) WORK=$(BENCH_DIR)/sync tests/bench/sync_e2e_bench.sh

clean:
	rm -rf build
