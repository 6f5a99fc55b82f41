"""The learning-method comparison (tools/compare_learning.py): maximum likelihood with persistent
Gibbs chains against the approximations it argues against, on the same CNN, edge classes, data
and batches, in regimes of unary strength (the replication run's CNN, a weak one, a low-data one),
every learned model evaluated with Gibbs max-marginals, mean field, ICM and LBP.

regimes.py  a regime's source: the run itself, or its own stage-1 CNN and stored scores
plan.py     planned minutes per regime from the cost model (experiments.scales.COSTS)
evaluate.py every model x inference scored on the comparison's test images (experiments.evaluation)
report.py   report.json / report.md: per regime the table, paired gains, training times, repulsion
figure.py   the CRF's gain over the CNN alone against the CNN's accuracy, per learning method
run.py      the whole comparison, resumable, in a folder that records its settings

What is compared and how each method learns (experiments.methods, experiments.method_training)
is shared with tuning, which chooses the compared methods' rates.
"""
