"""The architecture-search band (supplement Sec. 2.3, Tables 4-5, Figs. 7-8): the
ConvNet space, NAS-Bench-201 cells, proxy training and rank correlation. Built on
the core (``method/``); the core imports nothing from here (import-linter)."""
