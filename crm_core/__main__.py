from crm_core.cli import main

main()
