"""CPU speed kernels: the fused first stage (``stem``), the fused modules and the
hand-written power-sum gradient. Each gives the plain PyTorch result (tests
compare them); nothing here changes what is computed."""
