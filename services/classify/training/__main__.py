from services.classify.training.train import main

main()
