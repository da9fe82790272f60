# The data stages include FreeType's headers, which live in a folder of
# their own.
CFLAGS += -I/usr/include/freetype2
