from npl.fast import main

main()
