# libFuzzer targets for the binary parsers (tests/fuzz/fuzz_*.c), built with
# clang under AddressSanitizer and UBSan into $(BUILD)/fuzz/.  The library is
# compiled again there with coverage instrumentation.  tests/e2e/fuzz.sh
# builds them ("make fuzz") and runs each for a few seconds.
FUZZ_CC     ?= clang
FUZZ_BUILD  ?= $(BUILD)/fuzz
FUZZ_CFLAGS := $(CSTD) -I. -I/usr/include/freetype2 -g -O1 -fno-omit-frame-pointer \
               -fsanitize=fuzzer-no-link,address,undefined
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB    := $(SRC_LIB:%.c=$(FUZZ_BUILD)/%.o)

fuzz: $(FUZZ_BIN)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

.SECONDARY: $(FUZZ_LIB)
.PHONY: fuzz
