/* Inception-v3 inference over oneDNN: the feature network of FID and the
 * Inception Score.
 *
 * Two variants share one graph (Szegedy et al. 2016, as torchvision lays it
 * out) and differ only where their sources differ:
 *
 *   FID    pytorch-fid's port of the 2015 TensorFlow graph: batch norm with
 *          scale and shift, the pool branch of the last block is a 3x3 max
 *          pool, input scaled to [-1, 1];
 *   KERAS  Keras' InceptionV3 (the network nsfwjs bundles): batch norm
 *          without scale, average pools in every block, input in [0, 1].
 *
 * Average pools inside blocks exclude the zero padding from their divisor
 * in both.  Weights come from a safetensors file with torchvision's names
 * (Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean, ...),
 * convolution weights OIHW; batch norm is folded into the convolutions.  The
 * classifier head is "fc" (one linear layer) or "fc1", "fc2", ... (linear
 * layers with ReLUs between); logits are the last layer's output.
 *
 * Activations stay in the layouts oneDNN's primitives ask for; the input is
 * reordered from NCHW and the pool features to rows, nowhere else. */
#ifndef DFM_NN_INCEPTION_H
#define DFM_NN_INCEPTION_H

#include <stddef.h>
#include <stdint.h>

#include "stages/nn/safetensors.h"
#include "stages/nn/tensor.h"

enum dfm_inception_variant {
	DFM_INCEPTION_FID = 1,
	DFM_INCEPTION_KERAS,
};

/* Width of the pool features. */
#define DFM_INCEPTION_FEATURES 2048

/* Side of the images the weights were trained at. */
#define DFM_INCEPTION_SIZE 299

/* Smallest side the graph accepts (its last stride-2 stage needs 3 x 3). */
#define DFM_INCEPTION_MIN_SIZE 75

struct dfm_inception;

/* The variant named by a weights file's metadata "variant" ("fid" or
 * "keras"), or 0 when it is missing or unknown. */
enum dfm_inception_variant dfm_inception_variant_of(const struct dfm_st *weights);

/* A network of this variant on weights, which it borrows: the parsed file
 * and its bytes must outlive the network.  Checks that every tensor the
 * graph needs is there with the right shape.  Returns 0 and *out (free it
 * with dfm_inception_free), or an error with a message in dfm_nn_errmsg(). */
int dfm_inception_new(const struct dfm_nn_ctx *ctx, enum dfm_inception_variant variant,
		      const struct dfm_st *weights, struct dfm_inception **out);

void dfm_inception_free(struct dfm_inception *net);

/* Number of logits the head gives. */
int dfm_inception_nlogits(const struct dfm_inception *net);

/* Runs n images x (NCHW, 3 channels, h x w, already normalised by
 * dfm_inception_input) and writes features [n, 2048] and, when logits is
 * not NULL, logits [n, nlogits].  Primitives are built on the first call
 * and again whenever n, h or w change.  Returns 0 or an error. */
int dfm_inception_forward(struct dfm_inception *net, const float *x, int64_t n, int64_t h,
			  int64_t w, float *features, float *logits);

/* Turns one uint8 image (HWC, c = 1 or 3; grey is repeated) into the
 * network's input: size x size x 3, written CHW into dst.  Pixels are
 * scaled to [0, 1], resized bilinearly with half-pixel centres (PyTorch's
 * align_corners=False, no antialiasing), then mapped to [-1, 1] for the
 * FID variant. */
void dfm_inception_input(enum dfm_inception_variant variant, const uint8_t *img, int h,
			 int w, int c, int size, float *dst);

#endif
