"""Storage the app owns: clients, the URLs handed to the service, the job table and the results queue."""
