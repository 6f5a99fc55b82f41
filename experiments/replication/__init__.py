"""The replication run's parts: the run itself, evaluation of its rows, report, figures. Shared
with the comparison and tuning, beside this package: the stages under `caffe train`
(experiments.stages), the run folder and its data (experiments.run_folder), scales."""
