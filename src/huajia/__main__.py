from huajia.cli.main import main

main()
