"""SLA clocks in business time: calendars, clocks, checkpoints and the SLA ledger."""
