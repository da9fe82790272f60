/* ResNet-18 (He et al. 2016) for the paper's classifier experiments, in two
 * stems: the CIFAR variant (3x3 stride-1 first convolution, no max pool;
 * for 32x32 inputs) and the ImageNet one (7x7 stride-2 convolution and a
 * 3x3 stride-2 max pool; for 224x224).  Four stages of two basic blocks,
 * width w, 2w, 4w, 8w (w = 64 in the paper), global average pooling and a
 * linear classifier.  Parameter names are torchvision's (conv1, bn1,
 * layer1.0.conv1, layer2.0.downsample.0, fc, ...); convolutions are Kaiming
 * normal (fan out), as torchvision initialises them. */
#ifndef DFM_NN_RESNET_H
#define DFM_NN_RESNET_H

#include "stages/nn/model.h"
#include "stages/nn/optim.h"

struct dfm_resnet_config {
	int nclass;
	int width;      /* channels of the first stage: 64 */
	bool imagenet;  /* the 224x224 stem */
	uint64_t seed;
};

struct dfm_resnet_block {
	bool has_down;
	struct dfm_nn_conv conv1, conv2, down;
	struct dfm_nn_bn bn1, bn2, down_bn;
	struct dfm_nn_tensor h1, a1, h2, b2, hd, bd, out;
};

struct dfm_resnet {
	struct dfm_resnet_config cfg;
	struct dfm_nn_conv conv1;
	struct dfm_nn_bn bn1;
	struct dfm_nn_pool pool;
	struct dfm_resnet_block block[8];
	struct dfm_nn_linear fc;
	struct dfm_nn_state state;
	struct dfm_nn_tensor c1, a1, p, gap, logits, dlogits;
	struct dfm_nn_tensor d[4];
	const struct dfm_nn_tensor *input;
};

/* Builds and initialises a ResNet-18.  Returns 0 or an error; free it with
 * dfm_resnet_free(). */
int dfm_resnet_init(struct dfm_resnet *r, const struct dfm_resnet_config *cfg);
void dfm_resnet_free(struct dfm_resnet *r);

/* Logits (N, nclass) of images x into r->logits; x must stay valid until
 * the backward pass. */
int dfm_resnet_forward(const struct dfm_nn_ctx *ctx, struct dfm_resnet *r,
		       const struct dfm_nn_tensor *x, bool train);

/* Parameter gradients from the gradient of r->logits. */
int dfm_resnet_backward(const struct dfm_nn_ctx *ctx, struct dfm_resnet *r,
			const struct dfm_nn_tensor *dlogits);

/* One training step: forward, softmax cross-entropy against labels (loss
 * in *loss), backward, Adam.  Returns 0 or an error. */
int dfm_resnet_train_step(const struct dfm_nn_ctx *ctx, struct dfm_resnet *r,
			  struct dfm_nn_adam *opt, const struct dfm_nn_tensor *x,
			  const int32_t *labels, double *loss);

#endif
