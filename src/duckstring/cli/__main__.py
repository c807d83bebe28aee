from duckstring.cli.app import main

main()
