"""Mail to casework's own addresses: customers' and engineers' replies, delivery reports."""
