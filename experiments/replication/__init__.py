"""The replication run's parts: scales, stages under `caffe train`, evaluation, report."""
