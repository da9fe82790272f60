#!/bin/sh
# SNGAN training iteration at the paper's size (G 256, D 128 channels,
# batch 64, n_dis 5): dfmake against PyTorch (channels_last).
exec sh "$(dirname "$0")/sngan-common.inc" sngan-paper 256 128 "${SNGAN_ROUNDS:-3}" "${SNGAN_ITERS:-1}"
