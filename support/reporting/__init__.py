"""Reports over cases: the SLA report, the closed case's row, the policy what-if."""
