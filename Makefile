# dfmake: a dataflow build tool that reproduces Domain Fusion.
#
#   make            build bin/dfmake
#   make deps       install the Debian and npm packages the build, tests and data need
#   make check      build and run every test; ends with "N passed, N failed"
#   make asan       the same tests under AddressSanitizer and UBSan
#   make bench      run the benchmarks (BENCH=NAME runs one)
#   make tables     deps, build, then "dfmake tables" on the embedded default rules

CC      ?= cc
CSTD    := -std=c17 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes
OPT     ?= -O2 -g
# The pixel and tensor loops (stages/image, stages/nn) are compiled for the
# building machine, as oneDNN picks its kernels for the machine at run
# time; without it they get 16-byte vectors everywhere.  AVX-512 is left
# out: those loops are bound by memory, and valgrind 3.19 cannot run it.
# NATIVE= builds a binary for any x86-64.
NATIVE  ?= -march=native -mno-avx512f
CFLAGS  += $(CSTD) $(WARN) $(OPT) -I. -MMD -MP -fopenmp-simd
LDLIBS  += -llmdb -lxxhash -lyaml -ljson-c -lyajl -lgit2 -ldnnl -lpng -ljpeg -lz \
           -llapacke -lopenblas -lfreetype -lmatio -lgomp -lm -lpthread

BUILD   ?= build
BIN     ?= bin
SRC_ALL := $(wildcard cache/*.c stages/*.c stages/*/*.c engine/*.c)
SRC_LIB := $(filter-out engine/main.c,$(SRC_ALL))
OBJ_LIB := $(SRC_LIB:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/unit/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
KINDS_OBJ := $(BUILD)/tests/kinds/kinds.o $(BUILD)/tests/kinds/main.o
# Each tests/bench/NAME.c is a benchmark driver, built as $(BUILD)/bench-NAME.
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench-%)

all: $(BIN)/dfmake

$(BIN)/dfmake: $(BUILD)/engine/main.o $(OBJ_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The same binary plus kinds that exist only for the engine's own tests.
$(BUILD)/dfmake-test: $(KINDS_OBJ) $(OBJ_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/unit: $(TEST_OBJ) $(OBJ_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench-%: $(BUILD)/tests/bench/%.o $(OBJ_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

deps:
	@tests/deps.sh

check: deps $(BIN)/dfmake $(BUILD)/dfmake-test $(BUILD)/unit
	@BUILD=$(BUILD) BIN=$(BIN) tests/run.sh

# A stage's segfault must stay a signal, as the crash tests expect.
asan:
	ASAN_OPTIONS=handle_segv=0 $(MAKE) BUILD=build-asan BIN=build-asan/bin OPT="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" check

bench: $(BIN)/dfmake $(BUILD)/dfmake-test $(BENCH_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) tests/bench/run.sh $(BENCH)

tables: deps $(BIN)/dfmake
	bin/dfmake tables

clean:
	rm -rf build build-asan bin

.PHONY: all deps check asan bench tables clean

-include $(OBJ_LIB:.o=.d) $(TEST_OBJ:.o=.d) $(KINDS_OBJ:.o=.d) $(BUILD)/engine/main.d

# Parts of the test suite with build rules of their own (fuzz targets, say).
-include $(wildcard tests/*/*.mk)

# The default rules are compiled into the binary.
$(BUILD)/engine/defaults.o: rules/quick.yaml
