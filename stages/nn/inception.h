/* Inception-v3 forward pass in the variant FID uses (pytorch-fid's
 * FIDInception: average pools that exclude padding in the A, C and first E
 * blocks, a max pool in the last E block), producing the 2048 pool3
 * features.  Weights load from a safetensors file under torchvision's
 * names (Conv2d_1a_3x3.conv.weight, Mixed_5b.branch1x1.bn.running_mean,
 * ...).  The caller resizes images to 299x299 and scales them to [-1, 1].
 * For tests, every channel count can be divided by a common factor. */
#ifndef DFM_NN_INCEPTION_H
#define DFM_NN_INCEPTION_H

#include "stages/nn/model.h"

enum { DFM_INC_UNITS = 10 };

/* conv (no bias), batch norm (eps 1e-3) and ReLU: torchvision's BasicConv2d */
struct dfm_inc_unit {
	struct dfm_nn_conv conv;
	struct dfm_nn_bn bn;
	struct dfm_nn_tensor h, out;
};

struct dfm_inc_block {
	int kind;
	int nunits, cin;
	struct dfm_inc_unit unit[DFM_INC_UNITS];
	struct dfm_nn_pool pool;
	struct dfm_nn_tensor pooled, out;
};

struct dfm_inception {
	int div;
	struct dfm_inc_unit stem[5];
	struct dfm_nn_pool maxpool;
	struct dfm_nn_tensor p1, p2;
	struct dfm_inc_block mixed[11];
	struct dfm_nn_state state;
	struct dfm_nn_tensor features;  /* (N, 2048 / div) after a forward */
};

/* Builds the network with channel counts divided by div (1 for the real
 * one), weights zero until loaded.  Returns 0 or an error. */
int dfm_inception_init(struct dfm_inception *net, int div);
void dfm_inception_free(struct dfm_inception *net);

/* pool3 features of images x (N, 3, H, W), H and W at least 75, into
 * net->features.  Returns 0 or an error. */
int dfm_inception_forward(const struct dfm_nn_ctx *ctx, struct dfm_inception *net,
			  const struct dfm_nn_tensor *x);

#endif
