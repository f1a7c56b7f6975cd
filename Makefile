# hotrod: `make` builds build/hotrod, `make run` starts the server, `make test` runs every test,
# `make fuzz` builds the fuzz targets (tests/fuzz/run.sh runs them).
# On a fresh Debian 12 machine both install what is missing first (as root), or print the
# exact apt-get line to run.

BUILD_DIR ?= build
SANITIZE_BUILD_DIR ?= build-sanitize
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

# Debian packages needed to build and test (docs/operations.md says why each is there).
DEB_PACKAGES := build-essential cmake pkg-config \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
  libsqlite3-dev libpq-dev libssl-dev libseccomp-dev libcap-dev libarchive-dev \
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev \
  python3.11 zip unzip clang libnats-dev
# Servers the tests start themselves (`make test`/`make unit` install them with the build packages;
# never run as services): PostgreSQL 15 for the PostgreSQL store's tests (initdb/pg_ctl in a
# temporary directory), nats-server for the NATS bus tests.
TEST_PACKAGES := postgresql nats-server
# Node.js 20 and npm: the image's nodejs package, else Debian's.
NODE_PACKAGES := nodejs npm
# Benchmarks only (`make bench`, never `make test`): wrk drives the throughput benchmark.
BENCH_PACKAGES := wrk
# Fuzzing only (`make fuzz`): clang and its libFuzzer/sanitizer runtimes.
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_BUILD_DIR ?= build-fuzz

.PHONY: all build deps bench-deps fuzz-deps run cluster test unit test-sanitize clean bench fuzz format

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES) $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing packages; run:"; echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS) --target hotrod

run: build
	$(BUILD_DIR)/hotrod serve $(ARGS)

# A local cluster to try (docs/cluster.md): its own PostgreSQL and NATS, a controller and three
# invokers on loopback, each node with its own data directory, until Ctrl-C.
cluster: build
	HOTROD_BIN=$(abspath $(BUILD_DIR))/hotrod python3 tests/integration/cluster.py --invokers 3

test: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure $(CTEST_ARGS)

unit: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

# The unit and integration tests again, built by clang with ASan + UBSan (docs/operations.md,
# "Checks in CI"). clang also checks the lock annotations (-Wthread-safety). Any report fails
# its test: the sanitizers abort the process, and the integration harness fails a test whose
# server logged a report.
$(SANITIZE_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(SANITIZE_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DHOTROD_SANITIZE=ON

test-sanitize: deps $(SANITIZE_BUILD_DIR)/CMakeCache.txt
	cmake --build $(SANITIZE_BUILD_DIR) -j$(JOBS)
	cd $(SANITIZE_BUILD_DIR) && UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -L 'unit|integration' $(CTEST_ARGS)

bench-deps:
	@missing=""; \
	for p in $(BENCH_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing benchmark tools; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

bench: build bench-deps
	bench/run.sh

# `make fuzz` builds the libFuzzer targets (tests/fuzz/, clang, ASan+UBSan) in their own build
# directory; tests/fuzz/run.sh runs each for a short time (docs/testing.md, "Fuzzing").
fuzz-deps:
	@missing=""; \
	for p in $(FUZZ_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing fuzzing tools; run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(FUZZ_BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_CXX_COMPILER=clang++ -DHOTROD_FUZZ=ON

fuzz: deps fuzz-deps $(FUZZ_BUILD_DIR)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD_DIR) -j$(JOBS) --target fuzz

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_BUILD_DIR) $(FUZZ_BUILD_DIR)
