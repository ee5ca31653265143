from intentflow.cli import main

main()
