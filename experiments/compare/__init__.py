"""The learning-method comparison (tools/compare_learning.py): maximum likelihood with persistent
Gibbs chains against the approximations it argues against, on the same CNN, edge classes, data
and batches (a finished replication run's), every learned model evaluated with Gibbs
max-marginals, mean field and ICM.

evaluate.py every model x inference scored on the test set (experiments.evaluation)
report.py   report.json / report.md: the table, paired gains, training times, theta's repulsion
run.py      the whole comparison, resumable, in a folder that records its settings

What is compared and how each method learns (experiments.methods, experiments.method_training)
is shared with tuning, which chooses the compared methods' rates.
"""
