# The data stages include FreeType's headers, which live in a folder of
# their own.
CFLAGS += -I/usr/include/freetype2

# Decoding and resampling loops, compiled for the building machine (NATIVE,
# see the Makefile).
$(BUILD)/stages/image/%.o: CFLAGS += $(NATIVE)

# data-grids: the data stages' pipeline without the engine, writing one
# labelled PNG grid per source (see tests/data/grids.c).
$(BUILD)/data-grids: $(BUILD)/tests/data/grids.o $(OBJ_LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)
