"""ColTran's constants, one per meaning (Kumar et al. 2021, §4), defined once for all of coltran/."""

COARSE_BITS = 3  # bits per RGB channel of the core's coarse colours
NUM_CHANNELS = 3  # R, G, B
NUM_COARSE_COLORS = (2**COARSE_BITS) ** NUM_CHANNELS  # 512: the core's symbols (one per coarse RGB triple)
NUM_LEVELS = 256  # 8-bit levels: the grayscale input of all three stages and the upsamplers' outputs
