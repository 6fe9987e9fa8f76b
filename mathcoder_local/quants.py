"""The tensor types a GGUF is written in, by the names the commands use.

One list for the converter (what `convert --outtype` writes), the catalog (what `models` sizes and
`pull --quant` makes) and the command line (the choices it offers). Standalone, with no imports, so each of
them can read it without loading the others.
"""

DIRECT = ("f32", "f16", "bf16", "q8_0")  # written by the converter itself, tensor by tensor
K_QUANTS = ("q6_k", "q5_k_m", "q4_k_m")  # made by llama.cpp's quantizer from an f16 staging file
QUANTS = DIRECT + K_QUANTS
DEFAULT_QUANT = "q4_k_m"  # what `pull` makes unless told otherwise
FULL_PRECISION = "f32"  # no rounding of the weights: the bundled model's GGUF
