"""The case as a pure state machine: its record, events, effects, actions, agenda and views."""
