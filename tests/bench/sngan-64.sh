#!/bin/sh
# SNGAN training iteration (n_dis 5 discriminator steps and one generator
# step, batch 64, 32x32x3, hinge loss, Adam) with 64-channel G and D:
# dfmake against PyTorch (channels_last), same thread count, run in
# alternation so that both see the same machine load.
exec sh "$(dirname "$0")/sngan-common.inc" sngan-64 64 64 "${SNGAN_ROUNDS:-3}" "${SNGAN_ITERS:-2}"
