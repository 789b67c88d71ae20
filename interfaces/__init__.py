"""The front doors: the HTTP API (`api`), the support console (`console`), the commands
(`cli`) and mail to casework's addresses (`mail_in`), each over the application layer."""
