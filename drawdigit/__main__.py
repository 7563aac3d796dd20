from drawdigit.cli import main

raise SystemExit(main())
