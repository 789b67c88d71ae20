"""The application layer the front doors share: the Cases gateway and its action table, the
API's guard and rate limits, listings, threads, ledgers, reports and the policy what-if."""
