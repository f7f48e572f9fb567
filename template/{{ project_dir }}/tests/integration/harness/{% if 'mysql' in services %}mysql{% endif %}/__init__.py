"""MySQL and MariaDB: the service, and its layers under the shared SQL fixtures."""
