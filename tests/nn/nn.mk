# The training library parallelises its hand-written kernels with OpenMP,
# the runtime oneDNN itself uses, so both share one thread pool.
$(BUILD)/stages/nn/%.o: CFLAGS += -fopenmp
LDLIBS += -lgomp
