"""PixColor's constants, one per meaning (Guadarrama et al., BMVC 2017, §3 and the appendix table).

Chroma order: every chroma tensor of pixcolor/ has channel 0 = Cr and channel 1 = Cb, the PixelCNN's
generation order inside a pixel (§3.1: p(y(i,r) | ...) p(y(i,b) | y(i,r), ...)). YCbCr is JPEG full range
on [0, 1] (common/color.py); gray = Y.
"""

NUM_BINS = (
    32  # §3.1: Cb and Cr discretised separately into 32 bins (common.quantize.NeutralCenteredQuantizer)
)
NUM_CHROMA = 2  # Cr, Cb
CR, CB = 0, 1  # channel indices of a pixcolor chroma tensor (generation order)
RESOLUTION = 224  # appendix table: the conditioning and refinement networks take 224 x 224 inputs
LOW_RESOLUTION = 28  # appendix table: the PixelCNN works on 28 x 28 x 2 chroma
STRIDE = RESOLUTION // LOW_RESOLUTION  # 8: conv1 /2, first ResNet stage /2, second /2, third /1
# Keras applications ResNet ("caffe" preprocessing): BGR channel means on the 0..255 scale, subtracted from
# the replicated gray so weights loaded from a Keras ResNet101 file see inputs in their training range.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
