# The training library parallelises its hand-written kernels with OpenMP,
# the runtime oneDNN itself uses, so both share one thread pool.  They are
# compiled for the machine that builds them (NATIVE=-march=native), as
# oneDNN picks its kernels for the machine at run time: without it the
# element-wise and normalisation loops get 16-byte vectors on every machine.
# Build with NATIVE= for a binary that runs on any x86-64.
NATIVE ?= -march=native
$(BUILD)/stages/nn/%.o: CFLAGS += -fopenmp $(NATIVE)
LDLIBS += -lgomp
