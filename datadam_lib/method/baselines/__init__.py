"""The baselines band: the other methods DataDAM is compared with (DC, DSA, DM, CAFE,
coresets, generative models, pixel MMD), the t-SNE of Fig. 9, and ``sets``, the
registry of every kind of set, DataDAM's included. Built on the core
(``method/``); the core imports nothing from here (import-linter)."""
