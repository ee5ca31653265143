from services.classify.app import main

main()
