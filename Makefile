# Thin front for CMake. `make run` and `make test` are the two set-up commands
# of README.md: both install the Debian packages flinc needs first.
BUILD_TYPE ?= Release
JOBS ?= 2
CMAKE ?= cmake

.PHONY: all deps build run test asan bench bench-nexmark format clean

all: build

deps:
	@scripts/install-deps.sh

# The release build writes the distribution into the repository: bin/flinc,
# lib/libflinc.so, examples/{batch,streaming}/*.so.
build: deps
	@$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DFLINC_OUT_DIR=$(CURDIR) -DFLINC_TESTS=OFF > build-release.log || (cat build-release.log; exit 1)
	@$(CMAKE) --build build/release -j $(JOBS)

run: build
	./bin/flinc run examples/batch/wordcount.so --input examples/data/hamlet.txt

asan: deps
	@$(CMAKE) -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DFLINC_SANITIZE=ON > build-asan.log \
	    || (cat build-asan.log; exit 1)
	@$(CMAKE) --build build/asan -j $(JOBS)

test: asan
	cd build/asan && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	bench/run.sh

bench-nexmark: build
	bench/nexmark/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*.log bin/flinc lib/ examples/batch/*.so examples/streaming/*.so
