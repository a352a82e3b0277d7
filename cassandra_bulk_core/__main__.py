from cassandra_bulk_core.cli import main

main()
