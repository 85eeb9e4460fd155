from tradewatch.cli import main

raise SystemExit(main())
