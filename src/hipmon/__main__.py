from hipmon.cli import main

raise SystemExit(main())
