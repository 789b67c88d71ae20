"""Who is told what, and the signed reply addresses, survey links and webhook signatures."""
