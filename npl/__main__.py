from npl.cli import main

main()
