# shoal: `make demo` runs the local demo swarm, `make test` runs the tests.
# Uses `deno` from PATH when it is the pinned version, otherwise installs the
# npm package deno@$(DENO_VERSION) into .tools/ (git-ignored) and uses that.

DENO_VERSION := 2.9.6
LOCAL_DENO := .tools/node_modules/.bin/deno
DENO := $(shell if command -v deno >/dev/null 2>&1 && deno --version 2>/dev/null | head -n1 | grep -q "deno $(DENO_VERSION) "; then command -v deno; else echo $(LOCAL_DENO); fi)

.PHONY: all demo dev test test-deps test-faults check build bench bench-deps bench-tracker bench-compare bench-lan screenshot deno clean

all: check test

deno: $(DENO)

$(LOCAL_DENO):
	mkdir -p .tools
	[ -f .tools/package.json ] || echo '{"private":true}' > .tools/package.json
	cd .tools && npm install --no-audit --no-fund --loglevel=error deno@$(DENO_VERSION)
	$(LOCAL_DENO) --version

# `make demo STAY=300` keeps the swarm up 300 s at the end to look at the web UIs it printed.
STAY ?= 0
demo: deno
	$(DENO) task dev --stay $(STAY)

test: deno test-deps
	$(DENO) task test

# The namespace tests (partition, liveness, download control) need `ip` and `tc`
# (iproute2), the TLS capture test needs `tcpdump`, and the browser tests
# Debian's `chromium`; as root they are installed when missing, otherwise
# those tests skip.
test-deps:
	@if ! command -v ip >/dev/null 2>&1 || ! command -v tc >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y iproute2 || (apt-get update && apt-get install -y iproute2); \
	  else echo "iproute2 (ip, tc) is missing: the network-namespace tests will skip"; fi; \
	fi
	@if ! command -v tcpdump >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y tcpdump || (apt-get update && apt-get install -y tcpdump); \
	  else echo "tcpdump is missing: the TLS capture test will skip"; fi; \
	fi
	@if ! command -v chromium >/dev/null 2>&1 && [ -z "$${SHOAL_CHROMIUM:-}" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y --no-install-recommends chromium || (apt-get update && apt-get install -y --no-install-recommends chromium); \
	  else echo "chromium is missing: the browser tests will skip"; fi; \
	fi

# The long fault-injection runs (the test suite runs short versions of them).
test-faults: deno test-deps
	SHOAL_FAULT_ROUNDS=20 SHOAL_CHURN_MIB=128 $(DENO) test --allow-all tests/crash_loop_faults_test.ts tests/peer_churn_faults_test.ts tests/partition_faults_test.ts tests/hostile_e2e_test.ts tests/lying_peer_e2e_test.ts tests/disk_full_e2e_test.ts

check: deno
	$(DENO) task check

# The LAN section needs iproute2 (test-deps) and root for its namespaces; it says so and is left out otherwise.
# The aria2 comparison needs aria2, mktorrent, opentracker and time (bench-deps).
bench: deno test-deps bench-deps
	$(DENO) task bench

# As root, installs what the aria2 comparison needs when missing; otherwise says so and those sections are left out.
bench-deps:
	@if ! command -v aria2c >/dev/null 2>&1 || ! command -v mktorrent >/dev/null 2>&1 || ! command -v opentracker >/dev/null 2>&1 || ! [ -x /usr/bin/time ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y aria2 mktorrent opentracker time || (apt-get update && apt-get install -y aria2 mktorrent opentracker time); \
	  else echo "aria2c, mktorrent, opentracker or time is missing: the aria2 comparison will be left out"; fi; \
	fi

# shoal on shaped namespace hosts only (docs/PERFORMANCE.md, "On a shaped LAN").
bench-lan: deno test-deps bench-deps
	$(DENO) task bench:lan

# Installs aria2, mktorrent, opentracker and time (Debian) so that `make bench`
# can compare shoal with aria2 in the same run.
bench-compare: deno bench-deps
	$(DENO) run --allow-all bench/aria2_compare.ts

bench-tracker: deno
	$(DENO) task bench:tracker

# deno compile fetches its runtime (denort) for the target; where that cannot
# be downloaded, point DENORT_BIN at a denort binary of the same version.
build: deno
	$(DENO) task compile

# Retakes docs/web_ui.png: the browser test, with a download caught partway.
screenshot: deno test-deps
	SHOAL_SCREENSHOT=docs/web_ui.png $(DENO) test --allow-all tests/browser_e2e_test.ts

clean:
	rm -rf dist .tools
