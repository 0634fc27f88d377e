from dialectid.cli import main

main()
