"""What the command-line tools run: evaluation, the replication run, tuning, the baseline
forest, the paper-claims audit, figures, and the tools' shared command-line conventions.
Each tool in tools/ is argparse plus one call into here."""
