"""What `infersim check`, `baseline` and `diff` compute, as pure functions over run outputs.

- `metrics`: a run's JSON as dotted metric paths (`margins.plus.gross_margin_pct`), with
  aliases (`serving.ttft_p99_s`), and the key metrics a baseline records.
- `expectations`: a scenario's `expect:` bounds evaluated over one run or many samples.
- `baseline`: the baseline file (versioned), tolerances, and the diff against it.
- `outcome`: per scenario, expectations and diff together; the verdict and exit code.

Nothing here touches files or the terminal: the CLI reads and writes, `report.check` renders.
"""
