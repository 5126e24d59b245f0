from dflow_tui.cli import main

main()
