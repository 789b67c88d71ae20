"""The support policy as data: the snapshot, its versions, durations, targets, its words."""
