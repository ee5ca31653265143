from services.match.app import main

main()
