from membench.cli.main import main

raise SystemExit(main())
