from docketwatch.cli import main

main()
