"""The commands of `casework` / `starter.py`: cases, the operator's databases, history and
replay, mail held for review, the what-if."""
