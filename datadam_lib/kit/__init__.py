"""Layer 2, the kit's machinery: where things live (paths), the result cache,
jobs (sweeps and their executors), the registry of paper artefacts, reports
(tables, manifests) and figures. It uses the method (layer 1) and knows
nothing of the experiment families (layer 3) that register targets with it."""
