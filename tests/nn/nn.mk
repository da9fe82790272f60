# The training library parallelises its hand-written kernels with OpenMP,
# the runtime oneDNN itself uses, so both share one thread pool; they are
# compiled for the building machine (NATIVE, see the Makefile).
$(BUILD)/stages/nn/%.o: CFLAGS += -fopenmp $(NATIVE)
LDLIBS += -lgomp
