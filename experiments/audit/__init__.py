"""The paper's claims, one module each with run(quick=...) -> Result; tools/audit.py runs
SIMULATED in order, then the rows that read the replication report (report.run) and the
learning comparison's report (learning.run)."""
from . import gibbs_exact, independent, learning, recovery, repulsive, report, scaling, unbiased_gradient

SIMULATED = [gibbs_exact, unbiased_gradient, independent, recovery, scaling, repulsive]
