"""The capacity planner (`infersim plan`): the cheapest configuration that meets the SLOs.

`space` (candidates and constraints), `problem` (the traffic planned, as `run` serves it),
`screen` (stage 1: the performance model and a queueing estimate), `verify` (stage 2: the
simulation sizes a fleet to the SLO), `search` (both stages, cost floors pruning what cannot
beat the best plan), `frontier` (cost-latency frontier, why the runner-up lost). Pure
functions over a scenario and the catalog; no I/O."""
